"""Hostile batches through the real Mosquitto, bridge and Kafka: only what is wrong is
refused, the rest is forwarded."""

from __future__ import annotations

import asyncio
import json

import pytest

from ingest.bridge import Bridge
from ingest.kafka_sink import KafkaSink, KafkaTarget
from tests.integration.ingest.support import Publisher, consume, our_source, unique, wait_for
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration


async def test_a_reading_with_a_bad_meter_id_is_refused_alone(
    mqtt_broker: tuple[str, int], kafka_bootstrap: str, kafka_target: KafkaTarget
) -> None:
    """A gateway's _multi batch of two meters with one reading whose meter id no registry
    can hold (a right-to-left override in it): the two meters' four readings reach the
    readings topic, the bad reading alone is a dead letter that says why, and the batch
    after it is forwarded."""
    host, port = mqtt_broker
    root = f"test/{unique('hostile')}"
    sink = KafkaSink(kafka_target)
    await sink.start()
    bridge = Bridge(our_source(host, port, root), sink)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    await wait_for(bridge.subscribed)

    data = json.loads(batch_json(make_batch(["m-1", "m-2"])))
    bad = dict(data["readings"][1], meter_id="m-\u202e1", ts="2026-11-01T12:30:00Z")
    data["readings"].insert(2, bad)
    mixed = json.dumps(data).encode()
    after = batch_json(make_batch(["m-3"], batch_id="after"))
    publisher = Publisher(host, port)
    publisher.publish_all(
        [(f"{root}/gw-1/_multi/readings", mixed), (f"{root}/gw-1/m-3/readings", after)]
    )
    publisher.close()
    records = await consume(kafka_bootstrap, kafka_target.readings_topic, 3)
    dead = await consume(kafka_bootstrap, kafka_target.dead_letter_topic, 1)
    stop.set()
    await task
    await sink.stop()

    forwarded = {r.key: [x["ts"] for x in json.loads(r.value)["readings"]] for r in records}
    assert forwarded == {
        b"m-1": ["2026-11-01T12:00:00Z", "2026-11-01T12:15:00Z"],
        b"m-2": ["2026-11-01T12:00:00Z", "2026-11-01T12:15:00Z"],
        b"m-3": ["2026-11-01T12:00:00Z", "2026-11-01T12:15:00Z"],
    }
    [letter] = dead
    headers = dict(letter.headers)
    assert (headers["reason_code"], headers["reason"].decode()) == (
        b"schema_invalid",
        "readings[2].meter_id 'm-\\u202e1' is not a meter id",  # repr: no bidi control
    )
    assert [x["meter_id"] for x in json.loads(letter.value)["readings"]] == ["m-\u202e1"]
