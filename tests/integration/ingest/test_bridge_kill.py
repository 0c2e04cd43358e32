"""A bridge killed with SIGKILL mid-stream loses nothing: the broker redelivers what it had
not acknowledged (Kafka had not acked it yet) to the restarted bridge's persistent session."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest.kafka_sink import KafkaTarget
from schemas.reading import ReadingBatch
from tests.integration.ingest.support import Publisher, consume, unique
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration

PTS = [sys.executable, "-c", "import sys; from pts.cli import main; sys.exit(main(sys.argv[1:]))"]


def _start_bridge(
    env: dict[str, str], client_id: str, root: str, group: str, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(
            [
                *PTS,
                "--log-format",
                "json",
                "bridge",
                "run",
                "--client-id",
                client_id,
                "--topic-root",
                root,
                "--share-group",
                group,
                "--session-expiry",
                "120",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _events(log: Path, event: str) -> list[dict[str, object]]:
    found = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == event:
                found.append(entry)
    return found


def _wait_event(log: Path, event: str, count: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while len(_events(log, event)) < count:
        assert time.monotonic() < deadline, f"no {event} in {log.read_text()[-2000:]}"
        time.sleep(0.05)


async def test_sigkill_mid_stream_loses_nothing(
    mqtt_broker: tuple[str, int], kafka_bootstrap: str, kafka_target: KafkaTarget, tmp_path: Path
) -> None:
    """3,000 batches published while the bridge is SIGKILLed and restarted: all arrive."""
    host, port = mqtt_broker
    root = f"test/{unique('kill')}"
    readings_topic = kafka_target.readings_topic
    env = {
        **os.environ,
        "PTS_MQTT_HOST": host,
        "PTS_MQTT_PORT": str(port),
        "PTS_MQTT_USERNAME": "pts-test",
        "PTS_MQTT_PASSWORD": "pts-test-secret",
        "PTS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PTS_KAFKA_READINGS_TOPIC": readings_topic,
        "PTS_KAFKA_DEAD_LETTER_TOPIC": kafka_target.dead_letter_topic,
    }
    client_id, group, log = unique("bridge"), unique("g"), tmp_path / "bridge.log"
    first = _start_bridge(env, client_id, root, group, log)
    try:
        _wait_event(log, "mqtt_connected", 1)
        await asyncio.sleep(0.5)  # subscribed
        total = 3_000
        messages = [
            (
                f"{root}/gw-1/m-{n % 20}/readings",
                batch_json(make_batch([f"m-{n % 20}"], batch_id=f"b-{n}", per_meter=4)),
            )
            for n in range(total)
        ]
        publisher = Publisher(host, port)
        sender = threading.Thread(target=publisher.publish_all, args=(messages,))
        sender.start()
        await asyncio.sleep(0.4)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = _start_bridge(env, client_id, root, group, log)
        sender.join(60)
        publisher.close()
        records = await consume(kafka_bootstrap, readings_topic, total, timeout_s=25)
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    finally:
        for proc in (first, locals().get("second")):
            if isinstance(proc, subprocess.Popen) and proc.poll() is None:
                proc.kill()
                proc.wait(10)

    batch_ids = [ReadingBatch.model_validate_json(r.value).batch_id for r in records]
    assert set(batch_ids) == {f"b-{n}" for n in range(total)}
    assert all(
        ReadingBatch.model_validate_json(r.value).readings[0].meter_id == r.key.decode()
        for r in records
    )
    connects = _events(log, "mqtt_connected")
    assert [c["session_present"] for c in connects] == [False, True]
    [stopped] = _events(log, "bridge_stopped")
    print(
        f"records {len(records)}, duplicates {len(batch_ids) - total}, "
        f"redelivered to the second bridge {stopped['redelivered']}"
    )
    assert isinstance(stopped["redelivered"], int)
    assert stopped["redelivered"] > 0
    assert len(records) >= total
