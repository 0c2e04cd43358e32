"""`pts das pull` as a process, over MQTTS with the right CA, serving its /metrics: the
counters move as a provider's messages go into Kafka (one of them dead-lettered)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.kafka_sink import KafkaTarget
from schemas.reading import Source
from tests.broker_accounts import TEST_USER
from tests.integration.ingest.support import Publisher, consume, free_port, unique
from tests.integration.ops.scrape import Samples, wait_scrape
from tests.integration.ops.test_mqtt_tls import LOCAL_CA, MQTTS_PORT
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration

PTS = [sys.executable, "-c", "import sys; from pts.cli import main; sys.exit(main(sys.argv[1:]))"]


async def test_das_pull_over_tls_counts_what_it_forwarded(
    mqtt_broker: tuple[str, int], kafka_bootstrap: str, kafka_target: KafkaTarget, tmp_path: Path
) -> None:
    """Three acme batches (3 readings each) and one claiming another provider: 3 records in
    readings.raw, one dead letter, and the pull's /metrics say so with the provider's label."""
    host, port = mqtt_broker
    root = f"test/{unique('pull')}"
    secret = tmp_path / "provider-password"
    secret.write_text(TEST_USER[1] + "\n")
    metrics_port = free_port()
    env = dict(
        os.environ,
        PTS_KAFKA_BOOTSTRAP=kafka_bootstrap,
        PTS_KAFKA_READINGS_TOPIC=kafka_target.readings_topic,
        PTS_KAFKA_DEAD_LETTER_TOPIC=kafka_target.dead_letter_topic,
        PTS_LOG_FORMAT="json",
    )
    log = tmp_path / "pull.log"
    pull = start_pull(env, log, root, secret, metrics_port)
    try:
        await asyncio.to_thread(wait_scrape, metrics_port, lambda s: subscribed(s) == 1.0, 60)
        good = [
            (f"{root}/{m}/readings", batch_json(make_batch([m], Source.DAS, "acme", 3, f"b-{m}")))
            for m in ("a-1", "a-2", "a-3")
        ]
        other = (f"{root}/a-1/readings", batch_json(make_batch(["a-1"], Source.DAS, "solarco")))
        publisher = Publisher(host, port)
        publisher.publish_all([*good, other])
        publisher.close()
        records = await consume(kafka_bootstrap, kafka_target.readings_topic, 3)
        samples = await asyncio.to_thread(
            wait_scrape, metrics_port, lambda s: counter(s, "messages") == 4, 30
        )
    finally:
        pull.send_signal(signal.SIGTERM)
        pull.wait(30)
    assert sorted(r.value for r in records) == sorted(v for _, v in good), log.read_text()[-2000:]
    assert [counter(samples, n) for n in ("messages", "readings", "records", "dead_letters")] == [
        4, 9, 3, 1,
    ]  # fmt: skip
    assert gauge(samples, "mqtt_connected") == 1.0
    assert gauge(samples, "last_message_timestamp_seconds") > 0


def labelled(samples: Samples, name: str) -> float:
    found = [v for (n, labels), v in samples.items() if n == name
             and dict(labels).get("provider_id") == "acme"]  # fmt: skip
    return found[0] if found else -1.0


def counter(samples: Samples, name: str) -> float:
    return labelled(samples, f"pts_das_pull_{name}_total")


def gauge(samples: Samples, name: str) -> float:
    return labelled(samples, f"pts_das_pull_{name}")


def subscribed(samples: Samples) -> float:
    return gauge(samples, "subscribed")


def start_pull(
    env: dict[str, str], log: Path, root: str, secret: Path, metrics_port: int
) -> subprocess.Popen[bytes]:
    """`pts das pull` for provider acme on our broker's MQTTS port, as the test user."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [*PTS, "das", "pull", "--provider", "acme", "--host", "127.0.0.1", "--port",
             str(MQTTS_PORT), "--username", TEST_USER[0], "--password-file", str(secret),
             "--cafile", str(LOCAL_CA), "--topic-template", root + "/{meter_id}/readings",
             "--client-id", unique("pull"), "--metrics-port", str(metrics_port),
             "--session-expiry", "30"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
