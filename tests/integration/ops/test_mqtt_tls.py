"""The bridge and `pts das pull` over MQTTS on the local Mosquitto (deploy/local/mosquitto.sh,
certificate signed by the local CA of deploy/local/tls.sh): the right CA connects and readings
flow; a wrong CA, or TLS on the plain port, stops the process with one clear line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.bridge import Bridge
from ingest.errors import ConfigError
from ingest.kafka_sink import KafkaSink, KafkaTarget
from ingest.mqtt_tls import MqttTls, check_broker_certificate
from pts.settings import PROJECT_ROOT
from tests.integration.ingest.support import Publisher, consume, our_source, unique, wait_for
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration

PTS = [sys.executable, "-c", "import sys; from pts.cli import main; sys.exit(main(sys.argv[1:]))"]
MQTTS_PORT = int(os.environ.get("PTS_MQTTS_PORT", "18883"))
LOCAL_CA = Path(os.environ.get("PTS_LOCAL_DIR", PROJECT_ROOT / ".local")) / "tls" / "ca.crt"


@pytest.fixture(scope="module")
def wrong_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that signed nothing the broker has."""
    folder = tmp_path_factory.mktemp("other-ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Other CA"],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip
    return folder / "ca.crt"


async def test_bridge_over_mqtts_with_the_right_ca(
    mqtt_broker: tuple[str, int], kafka_bootstrap: str, kafka_target: KafkaTarget
) -> None:
    """Connected on the TLS port with the local CA, the bridge forwards every message."""
    host, port = mqtt_broker
    root = f"test/{unique('tls')}"
    sink = KafkaSink(kafka_target)
    await sink.start()
    source = our_source(host, MQTTS_PORT, root, share_group=unique("g"), tls=MqttTls(LOCAL_CA))
    bridge = Bridge(source, sink)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        await wait_for(bridge.subscribed)
        messages = [
            (
                f"{root}/gw-1/m-{n % 3}/readings",
                batch_json(make_batch([f"m-{n % 3}"], batch_id=f"b{n}")),
            )
            for n in range(30)
        ]
        publisher = Publisher(host, port)
        publisher.publish_all(messages)
        publisher.close()
        records = await consume(kafka_bootstrap, kafka_target.readings_topic, 30)
    finally:
        stop.set()
        stats = await task
        await sink.stop()
    assert sorted(r.value for r in records) == sorted(v for _, v in messages)
    assert stats.messages == 30


def test_tls_on_the_plain_port_is_named() -> None:
    """TLS against the plain listener fails the handshake with a hint about the port."""
    plain = int(os.environ.get("PTS_MQTT_PORT", "11883"))
    with pytest.raises(ConfigError, match=r"failed \(.*\); is that port its TLS listener\?"):
        check_broker_certificate("127.0.0.1", plain, MqttTls(LOCAL_CA))


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["bridge", "run", "--client-id", "ops-wrong-ca"], id="bridge"),
        pytest.param(
            [
                "das",
                "pull",
                "--provider",
                "sunny",
                "--host",
                "127.0.0.1",
                "--port",
                str(MQTTS_PORT),
                "--username",
                "pts-test",
                "--cafile",
                "{ca}",
            ],
            id="das-pull",
        ),
    ],
)
def test_a_wrong_ca_is_refused_in_one_line(
    command: list[str],
    wrong_ca: Path,
    mqtt_broker: tuple[str, int],
    kafka_target: KafkaTarget,
    tmp_path: Path,
) -> None:
    """The broker's certificate is not signed by the CA given: exit 1 at once, saying which
    file to fix; nothing is retried in the background."""
    env = dict(
        os.environ,
        PTS_MQTT_PORT=str(MQTTS_PORT),
        PTS_MQTT_TLS_CAFILE=str(wrong_ca),
        PTS_MQTT_PASSWORD="unused",
        PTS_KAFKA_BOOTSTRAP=kafka_target.bootstrap,
        PTS_KAFKA_READINGS_TOPIC=kafka_target.readings_topic,
        PTS_KAFKA_DEAD_LETTER_TOPIC=kafka_target.dead_letter_topic,
        PTS_BRIDGE_METRICS_PORT="0",
        PTS_DAS_PULL_METRICS_PORT="0",
        PTS_LOCAL_DIR=str(tmp_path),
    )
    args = [a.replace("{ca}", str(wrong_ca)) for a in command]
    done = subprocess.run(
        [*PTS, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"Error: the MQTT broker at 127.0.0.1:{MQTTS_PORT} presented a certificate that the "
        f"CA file {wrong_ca} does not trust (self-signed certificate in certificate chain); "
        "set the CA that signed the broker's certificate (PTS_MQTT_TLS_CAFILE, or --cafile "
        "for `pts das pull`)"
    )
