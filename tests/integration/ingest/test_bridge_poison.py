"""Hostile payloads through the real Mosquitto and Kafka: the bridge turns each into a
bounded dead letter and keeps bridging."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest

from ingest.bridge import Bridge
from ingest.kafka_sink import KafkaSink, KafkaTarget
from tests.integration.ingest.support import Publisher, consume, our_source, unique, wait_for
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration


async def test_ten_mib_of_garbage_and_a_malformed_topic_become_bounded_dead_letters(
    mqtt_broker: tuple[str, int], kafka_bootstrap: str, kafka_target: KafkaTarget
) -> None:
    """A gateway publishes 10 MiB of garbage, then a valid batch on a malformed topic, then
    a large _multi batch and a normal one: the first two are dead letters within the
    record limit (the garbage's prefix kept with its SHA-256), the large batch arrives split
    into records that fit, the bridge is still running and acknowledged all four."""
    host, port = mqtt_broker
    root = f"test/{unique('poison')}"
    sink = KafkaSink(kafka_target)
    await sink.start()
    bridge = Bridge(our_source(host, port, root), sink, max_value_bytes=200_000)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    await wait_for(bridge.subscribed)

    garbage = b"\x00" + os.urandom(10 * 1024 * 1024 - 1)  # never the start of JSON
    valid = batch_json(make_batch(["m-1"]))
    large = batch_json(make_batch(["m-1", "m-2"], per_meter=2_000))  # ~1.2 MB
    normal = batch_json(make_batch(["m-3"], batch_id="last"))
    assert len(large) > 1_000_000
    publisher = Publisher(host, port)
    publisher.publish_all(
        [
            (f"{root}/gw-1/m-1/readings", garbage),
            (f"{root}/gw-1/m-1/extra/readings", valid),
            (f"{root}/gw-1/_multi/readings", large),
            (f"{root}/gw-1/m-3/readings", normal),
        ]
    )
    publisher.close()
    dead = await consume(kafka_bootstrap, kafka_target.dead_letter_topic, 2)
    records = await consume(kafka_bootstrap, kafka_target.readings_topic, 8)
    assert not task.done()
    stop.set()
    stats = await task
    await sink.stop()

    by_code = {dict(r.headers)["reason_code"]: r for r in dead}
    assert sorted(by_code) == [b"malformed_json", b"topic_invalid"]
    cut = by_code[b"malformed_json"]
    headers = dict(cut.headers)
    assert garbage.startswith(cut.value)
    assert len(cut.value) + sum(len(k) + len(v) for k, v in cut.headers) <= 200_000
    assert headers["payload_sha256"] == hashlib.sha256(garbage).hexdigest().encode()
    assert headers["payload_bytes"] == str(len(garbage)).encode()
    assert headers["origin"] == b"bridge"
    assert by_code[b"topic_invalid"].value == valid
    assert all(len(r.value) <= 200_000 for r in records)
    assert sum(r.value.count(b'"meter_id"') for r in records) == 4_002
    assert sorted({r.key for r in records}) == [b"m-1", b"m-2", b"m-3"]
    assert (stats.messages, stats.dead_letters) == (4, 2)
