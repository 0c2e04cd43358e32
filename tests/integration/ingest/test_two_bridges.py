"""Scale-out: two bridges in one MQTT shared subscription share the load and lose nothing,
even when one of them is killed and comes back (its persistent session held its share)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest

from ingest.kafka_sink import KafkaTarget
from schemas.reading import ReadingBatch
from tests.broker_accounts import TEST_USER
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


async def test_two_bridges_share_the_readings_and_lose_none(
    mqtt_broker: tuple[str, int], kafka_bootstrap: str, kafka_target: KafkaTarget, tmp_path: Path
) -> None:
    """2,000 batches to two bridges of one $share group; bridge B is SIGKILLed mid-stream
    (holding messages it had not acknowledged, more published while it is down) and
    restarted with its client id: every batch reaches Kafka, both bridges carried some."""
    host, port = mqtt_broker
    root = f"test/{unique('two')}"
    env = {
        **os.environ,
        "PTS_MQTT_HOST": host,
        "PTS_MQTT_PORT": str(port),
        "PTS_MQTT_USERNAME": TEST_USER[0],
        "PTS_MQTT_PASSWORD": TEST_USER[1],
        "PTS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PTS_KAFKA_READINGS_TOPIC": kafka_target.readings_topic,
        "PTS_KAFKA_DEAD_LETTER_TOPIC": kafka_target.dead_letter_topic,
    }
    group = unique("g")
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    ids = {"a": unique("bridge-a"), "b": unique("bridge-b")}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start_bridge(env, ids["a"], root, group, log_a))
        procs.append(start_bridge(env, ids["b"], root, group, log_b))
        await asyncio.to_thread(wait_event, log_a, "mqtt_subscribed", 1, 60)
        await asyncio.to_thread(wait_event, log_b, "mqtt_subscribed", 1, 60)
        total = 2_000
        messages = [
            (
                f"{root}/gw-1/m-{n % 40}/readings",
                batch_json(make_batch([f"m-{n % 40}"], batch_id=f"b-{n}", per_meter=2)),
            )
            for n in range(total)
        ]
        # Mosquitto gives the members of a share group their turns in rotation, connected or
        # not. Each stretch below is published (every message acknowledged by the broker, so
        # routed) before the next step, so what each bridge holds does not depend on speed:
        # B frozen holds unacknowledged messages when it is killed, and its session collects
        # its turns while it is down; the restarted B must forward them.
        publisher = Publisher(host, port)
        await asyncio.to_thread(publisher.publish_all, messages[:1_000])
        procs[1].send_signal(signal.SIGSTOP)
        await asyncio.to_thread(publisher.publish_all, messages[1_000:1_500])
        procs[1].send_signal(signal.SIGKILL)
        procs[1].wait(10)
        await asyncio.to_thread(publisher.publish_all, messages[1_500:])
        procs.append(start_bridge(env, ids["b"], root, group, log_b))
        publisher.close()
        records = await consume(kafka_bootstrap, kafka_target.readings_topic, total, timeout_s=90)
        for proc in (procs[0], procs[2]):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    batch_ids = {ReadingBatch.model_validate_json(r.value).batch_id for r in records}
    assert batch_ids == {f"b-{n}" for n in range(total)}
    (stopped_a,) = events(log_a, "bridge_stopped")
    (stopped_b,) = events(log_b, "bridge_stopped")  # the killed run logged nothing
    assert isinstance(stopped_a["messages"], int)
    assert isinstance(stopped_b["messages"], int)
    assert stopped_a["messages"] > 0
    assert stopped_b["messages"] > 0  # the restarted B got its session's share
    assert [c["session_present"] for c in events(log_b, "mqtt_connected")] == [False, True]
