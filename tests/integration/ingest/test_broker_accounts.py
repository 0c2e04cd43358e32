"""Our broker's accounts on a real Mosquitto started by deploy/local/mosquitto.sh: no fixed
accounts, gateways confined to their own topics, the bridge's shared subscription its own,
passwords kept only as the broker's salted hashes (issue 14 items 7, 8; issue 13)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from ingest.broker_admin import BrokerAdmin
from ingest.broker_roles import gateway_role
from ingest.kafka_sink import KafkaTarget
from pts.cli import cli
from schemas.reading import Source
from tests.broker_accounts import TEST_USER, admin_credentials
from tests.integration.ingest.support import OwnMosquitto, consume, unique
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration


def _client(port: int, user: tuple[str, str], **kwargs: Any) -> tuple[mqtt.Client, str]:
    """A connected MQTT 5 client and the CONNACK reason."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=unique("c"), protocol=mqtt.MQTTv5, **kwargs
    )
    client.username_pw_set(*user)
    outcome: list[str] = []
    ready = threading.Event()

    def on_connect(c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
        outcome.append(str(rc))
        ready.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert ready.wait(10), "no CONNACK"
    return client, outcome[0]


def _close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def _connack(port: int, user: tuple[str, str]) -> str:
    client, reason = _client(port, user)
    _close(client)
    return reason


def _subscribe(client: mqtt.Client, topic: str) -> str:
    granted: list[str] = []
    done = threading.Event()

    def on_subscribe(c: Any, u: Any, mid: int, rcs: Any, props: Any) -> None:
        granted.extend(str(r) for r in rcs)
        done.set()

    client.on_subscribe = on_subscribe
    client.subscribe(topic, qos=1)
    assert done.wait(10), "no SUBACK"
    return granted[0]


def _publish(client: mqtt.Client, topics: list[str]) -> list[str]:
    """The PUBACK reason of each QoS 1 publish ('Not authorized' when refused)."""
    results: dict[int, str] = {}
    done = threading.Event()

    def on_publish(c: Any, u: Any, mid: int, rc: Any, props: Any) -> None:
        results[mid] = str(rc)
        if len(results) == len(topics):
            done.set()

    client.on_publish = on_publish
    mids = [client.publish(t, b"{}", qos=1).mid for t in topics]
    assert done.wait(10)
    return [results[mid] for mid in mids]


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    own = OwnMosquitto(tmp_path)
    own.start(accounts=False)
    try:
        yield own
    finally:
        own.stop()


def _pts(broker: OwnMosquitto, *args: str) -> Any:
    env = {"PTS_LOCAL_DIR": str(broker.local_dir), "PTS_MQTT_PORT": str(broker.port)}
    return CliRunner().invoke(cli, list(args), env=env)


def test_fresh_broker_has_no_fixed_accounts(broker: OwnMosquitto) -> None:
    """The script ships no known passwords: the old fixed accounts are refused; its two
    accounts have random passwords in owner-only files, kept by the broker only as hashes."""
    for user in [TEST_USER, ("gw-test", "gw-test-secret"), ("pts-bridge", "pts-bridge-secret")]:
        assert _connack(broker.port, user) in {"Not authorized", "Bad user name or password"}
    secrets = broker.dir / "secrets"
    state = (broker.dir / "dynsec.json").read_text()
    for name in ("pts-admin", "pts-bridge"):
        assert (secrets / name).stat().st_mode & 0o077 == 0
        password = (secrets / name).read_text().strip()
        assert len(password) >= 24
        assert password not in state  # only the salted hash is stored
        assert _connack(broker.port, (name, password)) == "Success"
    assert (broker.dir / "dynsec.json").stat().st_mode & 0o077 == 0


def test_gateway_add_user_confines_it_to_its_own_topics(broker: OwnMosquitto) -> None:
    """`pts gateway add-user`: the gateway publishes below its own id only; it cannot join the
    bridge's shared subscription nor read other sites; `remove-user` shuts it out."""
    for gateway_id in ("gw-a", "gw-b"):
        result = _pts(broker, "gateway", "add-user", gateway_id)
        assert result.exit_code == 0, result.output
        assert f"created broker account {gateway_id}" in result.output
        assert "password (shown once" in result.output  # a random one when none is given
    passwords = {}
    for gateway_id in ("gw-a", "gw-b"):
        file = broker.local_dir / f"{gateway_id}.pw"
        file.write_text(f"{gateway_id}-password-0123456789\n")
        result = _pts(broker, "gateway", "add-user", gateway_id, "--password-file", str(file))
        assert result.exit_code == 0, result.output
        assert f"updated broker account {gateway_id}" in result.output
        assert "password (shown once" not in result.output
        passwords[gateway_id] = f"{gateway_id}-password-0123456789"
    gw_a, reason = _client(broker.port, ("gw-a", passwords["gw-a"]))
    assert reason == "Success"
    try:
        assert _publish(
            gw_a,
            [
                "pts/v1/gw-a/m-1/readings",
                "pts/v1/gw-b/m-9/readings",
                "pts/v1/das/acme/m-1/readings",
            ],
        ) == ["No matching subscribers", "Not authorized", "Not authorized"]
        assert _subscribe(gw_a, "$share/bridge/pts/v1/#") == "Not authorized"
        assert _subscribe(gw_a, "pts/v1/#") == "Not authorized"
        assert _subscribe(gw_a, "pts/v1/gw-b/control/#") == "Not authorized"
        assert _subscribe(gw_a, "pts/v1/gw-a/control/#") == "Granted QoS 1"
    finally:
        _close(gw_a)
    assert (broker.local_dir / "gw-a.pw").read_text().strip() not in (
        broker.dir / "dynsec.json"
    ).read_text()
    result = _pts(broker, "gateway", "remove-user", "gw-a")
    assert result.exit_code == 0, result.output
    assert _connack(broker.port, ("gw-a", passwords["gw-a"])) in {
        "Not authorized",
        "Bad user name or password",
    }
    again = _pts(broker, "gateway", "remove-user", "gw-a")
    assert again.exit_code == 1
    assert "no broker account 'gw-a'" in again.output


def test_reserved_and_weak_gateway_accounts_refused(broker: OwnMosquitto) -> None:
    """A gateway may not take a namespace or the broker's own names, nor a short password."""
    assert "not allowed" in _pts(broker, "gateway", "add-user", "das").output
    assert "not allowed" in _pts(broker, "gateway", "add-user", "pts-bridge").output
    weak = broker.local_dir / "weak.pw"
    weak.write_text("short\n")
    result = _pts(broker, "gateway", "add-user", "gw-c", "--password-file", str(weak))
    assert result.exit_code == 1
    assert "at least 12 characters" in result.output


def test_rogue_gateway_cannot_steal_the_bridges_messages(broker: OwnMosquitto) -> None:
    """A gateway that tries the bridge's $share group is refused at SUBSCRIBE, so every one of
    another site's 10 readings reaches the bridge's account (before: 5 of 10 vanished)."""
    with BrokerAdmin.connect(admin_credentials(broker.port, broker.local_dir)) as admin:
        for gateway_id in ("gw-rogue", "gw-site"):
            role = gateway_role(gateway_id)
            admin.ensure_role(role)
            admin.ensure_client(gateway_id, f"{gateway_id}-secret-0123", [role.name])
    bridge_password = (broker.dir / "secrets" / "pts-bridge").read_text().strip()
    received: list[str] = []
    bridge, reason = _client(broker.port, ("pts-bridge", bridge_password))
    assert reason == "Success"
    bridge.on_message = lambda c, u, m: received.append(m.topic)
    rogue, _ = _client(broker.port, ("gw-rogue", "gw-rogue-secret-0123"))
    site, _ = _client(broker.port, ("gw-site", "gw-site-secret-0123"))
    try:
        assert _subscribe(bridge, "$share/bridge/pts/v1/#") == "Granted QoS 1"
        assert _subscribe(rogue, "$share/bridge/pts/v1/#") == "Not authorized"
        assert _subscribe(bridge, "pts/v1/#") == "Not authorized"  # only via its share group
        topics = [f"pts/v1/gw-site/m-{i}/readings" for i in range(10)]
        assert _publish(site, topics) == ["Success"] * 10
        for _ in range(100):
            if len(received) == 10:
                break
            time.sleep(0.05)
        assert sorted(received) == sorted(topics)
    finally:
        for client in (bridge, rogue, site):
            _close(client)


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


async def test_bridge_runs_on_its_own_account(
    broker: OwnMosquitto, kafka_target: KafkaTarget, tmp_path: Path
) -> None:
    """`pts bridge run` with no PTS_MQTT_PASSWORD reads the pts-bridge secret the broker's
    script wrote and forwards a gateway's batch into Kafka; without the file it says why."""
    env = {
        **os.environ,
        "PTS_LOCAL_DIR": str(broker.local_dir),
        "PTS_MQTT_PORT": str(broker.port),
        "PTS_KAFKA_BOOTSTRAP": kafka_target.bootstrap,
        "PTS_KAFKA_READINGS_TOPIC": kafka_target.readings_topic,
        "PTS_KAFKA_DEAD_LETTER_TOPIC": kafka_target.dead_letter_topic,
        "PTS_LOG_FORMAT": "json",
    }
    env.pop("PTS_MQTT_PASSWORD", None)
    command = [sys.executable, "-c", "from pts.cli import main; main()", "bridge", "run"]
    missing = _run(command, {**env, "PTS_MQTT_PASSWORD_FILE": str(tmp_path / "nope")})
    assert missing.returncode == 1
    assert "cannot read the broker password (PTS_MQTT_PASSWORD_FILE)" in missing.stderr
    with BrokerAdmin.connect(admin_credentials(broker.port, broker.local_dir)) as admin:
        role = gateway_role("gw-site")
        admin.ensure_role(role)
        admin.ensure_client("gw-site", "gw-site-secret-0123", [role.name])
    log = tmp_path / "bridge.log"
    bridge = _start(command, env, log)
    try:
        deadline = time.monotonic() + 30
        answers = (b"mqtt_subscribed", b"mqtt_subscribe_refused")  # its SUBSCRIBE answered
        while not any(answer in log.read_bytes() for answer in answers):
            assert bridge.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.1)
        assert b"mqtt_subscribe_refused" not in log.read_bytes(), log.read_text()
        site, _ = _client(broker.port, ("gw-site", "gw-site-secret-0123"))
        try:
            payload = batch_json(make_batch(["m-1"], Source.GATEWAY, "gw-site"))
            info = site.publish("pts/v1/gw-site/m-1/readings", payload, qos=1)
            info.wait_for_publish(10)
        finally:
            _close(site)
        records = await consume(kafka_target.bootstrap, kafka_target.readings_topic, 1)
        assert [r.key for r in records] == [b"m-1"]
    finally:
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(30)
