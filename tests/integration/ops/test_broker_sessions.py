"""A retired bridge client id with a persistent session: the broker queues every message for
it; the bridge's broker watch shows it (pts_broker_*) and `pts bridge forget-session` ends
it. On a Mosquitto of the test's own (deploy/local/mosquitto.sh), so the counts are exact."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.broker_watch import BrokerCollector, BrokerWatch
from tests.broker_accounts import TEST_USER
from tests.integration.ingest.support import OwnMosquitto, Publisher

pytestmark = pytest.mark.integration

PTS = [sys.executable, "-c", "import sys; from pts.cli import main; sys.exit(main(sys.argv[1:]))"]
STORE = "$SYS/broker/store/messages/count"
AWAY = "$SYS/broker/clients/disconnected"


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnMosquitto]:
    monkeypatch.setenv("PTS_MQTT_SYS_INTERVAL", "1")  # $SYS counts every second, not 10
    own = OwnMosquitto(tmp_path / "mq")
    own.start()
    yield own
    own.stop()


def wait_until(check: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def leave_persistent_session(port: int, client_id: str, topic_filter: str) -> None:
    """What a retired bridge leaves behind: a QoS 1 subscription in a 10-minute session."""
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(*TEST_USER)
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, *a: c.subscribe(topic_filter, qos=1)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 600
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    assert subscribed.wait(10)
    client.disconnect()
    client.loop_stop()


def forget(port: int, client_id: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PTS_MQTT_PORT=str(port), PTS_MQTT_USERNAME=TEST_USER[0],
               PTS_MQTT_PASSWORD=TEST_USER[1])  # fmt: skip
    return subprocess.run([*PTS, "bridge", "forget-session", client_id], env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_watch_sees_the_queue_of_a_retired_session_and_forget_session_ends_it(
    broker: OwnMosquitto,
) -> None:
    """300 messages published while the retired session is away: the broker's store grows by
    300 and one session is away; `pts bridge forget-session` drops the 300 and the session
    (the store's own $SYS messages stay), and a second run finds no session."""
    password = (broker.dir / "secrets" / "pts-bridge").read_text().strip()
    watch = BrokerWatch("127.0.0.1", broker.port, "ops-watch", "pts-bridge", password)
    watch.start()
    try:
        wait_until(lambda: STORE in watch.values and AWAY in watch.values, 30, "$SYS values")
        stored_before, away_before = watch.values[STORE], watch.values[AWAY]
        leave_persistent_session(broker.port, "pts-bridge-retired-host", "test/ops/#")
        publisher = Publisher("127.0.0.1", broker.port)
        publisher.publish_all([(f"test/ops/gw-1/m-{n}/readings", b"{}") for n in range(300)])
        publisher.close()
        wait_until(lambda: watch.values[STORE] >= stored_before + 300, 30, "the queue")
        assert watch.values[AWAY] == away_before + 1
        queued = watch.values[STORE]
        families = {f.name: f.samples[0].value for f in BrokerCollector(watch).collect()}
        assert families["pts_broker_store_messages"] == watch.values[STORE]
        assert families["pts_broker_clients_disconnected"] == away_before + 1

        first = forget(broker.port, "pts-bridge-retired-host")
        wait_until(
            lambda: watch.values[STORE] <= queued - 300 and watch.values[AWAY] == away_before,
            30,
            "the queue to go",
        )
        second = forget(broker.port, "pts-bridge-retired-host")
    finally:
        watch.stop()
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "ended the session of pts-bridge-retired-host (its queued messages are dropped)"
    ]
    assert second.stdout.splitlines() == [
        "the broker held no session for pts-bridge-retired-host; nothing to do"
    ]
