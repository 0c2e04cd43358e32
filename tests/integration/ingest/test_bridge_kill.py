"""A bridge killed with SIGKILL mid-stream loses nothing: the broker redelivers what it had
not acknowledged (Kafka had not acked it yet) to the restarted bridge's persistent session."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from ingest.kafka_sink import KafkaTarget
from schemas.reading import ReadingBatch
from tests.integration.ingest.support import (
    Publisher,
    consume,
    events,
    start_bridge,
    unique,
    wait_event,
)
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration


async def test_sigkill_mid_stream_loses_nothing(
    mqtt_broker: tuple[str, int], kafka_bootstrap: str, kafka_target: KafkaTarget, tmp_path: Path
) -> None:
    """3,000 batches published while the bridge is frozen, SIGKILLed and restarted: all
    arrive, and what the killed bridge held unacknowledged is redelivered."""
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
    first = start_bridge(env, client_id, root, group, log)
    try:
        await asyncio.to_thread(wait_event, log, "mqtt_subscribed", 1, 60)
        total = 3_000
        messages = [
            (
                f"{root}/gw-1/m-{n % 20}/readings",
                batch_json(make_batch([f"m-{n % 20}"], batch_id=f"b-{n}", per_meter=4)),
            )
            for n in range(total)
        ]
        publisher = Publisher(host, port)
        half = total // 2
        sender = threading.Thread(target=publisher.publish_all, args=(messages[:half],))
        sender.start()
        await asyncio.sleep(0.4)
        # Frozen, the bridge can neither forward nor acknowledge: the second half reaches it
        # (the broker fills its in-flight window) and stays unacknowledged. Killing it then
        # leaves unacknowledged deliveries behind whatever this machine's speed, so the
        # restarted bridge must be given them again (a kill between two batches would
        # otherwise leave nothing in flight, and redelivery would go unexercised).
        first.send_signal(signal.SIGSTOP)
        sender.join(60)
        # Once the broker acknowledged every one of them, it has routed them all to the
        # frozen bridge's session and sent it as many as its window allows (marked DUP if sent
        # again), whatever this machine's speed.
        await asyncio.to_thread(publisher.publish_all, messages[half:])
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = start_bridge(env, client_id, root, group, log)
        publisher.close()
        records = await consume(kafka_bootstrap, readings_topic, total, timeout_s=90)
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
    connects = events(log, "mqtt_connected")
    assert [c["session_present"] for c in connects] == [False, True]
    [stopped] = events(log, "bridge_stopped")
    print(
        f"records {len(records)}, duplicates {len(batch_ids) - total}, "
        f"redelivered to the second bridge {stopped['redelivered']}"
    )
    assert isinstance(stopped["redelivered"], int)
    assert stopped["redelivered"] > 0
    assert len(records) >= total
