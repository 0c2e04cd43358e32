"""`pts bridge retire`: a bridge removed from the shared subscription hands over its share.
On a Mosquitto of the test's own (deploy/local/mosquitto.sh), so what it holds is exact."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ingest.kafka_sink import KafkaTarget
from schemas.reading import ReadingBatch
from tests.broker_accounts import TEST_USER
from tests.integration.ingest.support import OwnMosquitto, Publisher, consume, unique
from tests.integration.ops.scale_support import BridgeProcess, pts
from tests.integration.stream.kafka_support import wait_for
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration


def messages(root: str, first: int, count: int) -> list[tuple[str, bytes]]:
    return [
        (f"{root}/gw-1/m-{n % 10}/readings",
         batch_json(make_batch([f"m-{n % 10}"], batch_id=f"b-{n}")))
        for n in range(first, first + count)
    ]  # fmt: skip


async def test_a_stopped_bridge_share_reaches_kafka_and_its_session_ends(
    kafka_target: KafkaTarget, tmp_path: Path
) -> None:
    """Bridges A and B share the readings; A stops and 300 messages are published, so A's
    session collects its turns; `pts bridge retire A` forwards exactly those to Kafka and
    ends the session: all 300 are in Kafka once, the broker holds no session for A, and the
    next 50 all go to B."""
    broker = OwnMosquitto(tmp_path / "mq")
    broker.start()
    root, group = f"test/{unique('retire')}", unique("share")
    env = {
        **os.environ,
        "PTS_MQTT_HOST": "127.0.0.1",
        "PTS_MQTT_PORT": str(broker.port),
        "PTS_MQTT_USERNAME": TEST_USER[0],
        "PTS_MQTT_PASSWORD": TEST_USER[1],
        "PTS_KAFKA_BOOTSTRAP": kafka_target.bootstrap,
        "PTS_KAFKA_READINGS_TOPIC": kafka_target.readings_topic,
        "PTS_KAFKA_DEAD_LETTER_TOPIC": kafka_target.dead_letter_topic,
        "PTS_BRIDGE_METRICS_PORT": "0",
    }
    a = BridgeProcess(env, root, group, tmp_path / "a.log")
    b = BridgeProcess(env, root, group, tmp_path / "b.log")
    try:
        a.start()
        b.start()
        await wait_for(lambda: a.subscribed() and b.subscribed(), 60, "both bridges subscribed")
        assert a.stop() == 0
        publisher = Publisher("127.0.0.1", broker.port)
        await asyncio.to_thread(publisher.publish_all, messages(root, 0, 300))
        retired = pts(["bridge", "retire", a.client_id, "--share-group", group,
                       "--topic-root", root], env)  # fmt: skip
        assert retired.returncode == 0, retired.stderr
        queued = int(retired.stdout.split()[1])
        forgotten = pts(["bridge", "forget-session", a.client_id], env)
        await asyncio.to_thread(publisher.publish_all, messages(root, 300, 50))
        publisher.close()
        records = await consume(kafka_target.bootstrap, kafka_target.readings_topic, 350, 90)
        assert b.stop() == 0
    finally:
        for bridge in (a, b):
            if bridge.proc is not None:
                bridge.stop()
        broker.stop()
    batch_ids = sorted(ReadingBatch.model_validate_json(r.value).batch_id for r in records)
    assert batch_ids == sorted(f"b-{n}" for n in range(350))  # each once
    assert queued == 150  # Mosquitto gave the stopped member every other turn
    assert retired.stdout.splitlines() == [
        f"forwarded {queued} messages ({2 * queued} readings) queued for {a.client_id}",
        f"ended the session of {a.client_id}: it is out of the share group",
    ]
    assert forgotten.stdout.strip() == (
        f"the broker held no session for {a.client_id}; nothing to do"
    )
    assert b.carried() == 350 - queued  # after the retirement, every turn is B's
