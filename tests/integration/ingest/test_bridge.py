"""The bridge on the real Mosquitto and Kafka: every payload arrives, keyed by meter."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from ingest.bridge import Bridge
from ingest.kafka_sink import KafkaSink, KafkaTarget
from schemas.reading import Source
from tests.integration.ingest.support import (
    Publisher,
    consume,
    our_source,
    unique,
    wait_for,
)
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration


async def test_batches_arrive_keyed_by_meter(
    mqtt_broker: tuple[str, int], kafka_bootstrap: str, kafka_target: KafkaTarget
) -> None:
    """N batches for 5 meters: each one in readings.raw exactly once, same bytes, meter key;
    a malformed payload and a topic mismatch go to the dead letter and the rest still flows."""
    host, port = mqtt_broker
    root = f"test/{unique('br')}"
    target = kafka_target
    sink = KafkaSink(target)
    await sink.start()
    source = our_source(host, port, root, share_group=unique("g"))
    bridge = Bridge(source, sink)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    await wait_for(bridge.subscribed)

    messages = []
    for n in range(200):
        meter = f"m-{n % 5}"
        payload = batch_json(make_batch([meter], batch_id=f"b-{n}", per_meter=4))
        messages.append((f"{root}/gw-1/{meter}/readings", payload))
    bad = [
        (f"{root}/gw-1/m-0/readings", b"{oops"),
        (f"{root}/gw-2/m-0/readings", batch_json(make_batch(["m-0"], source_id="gw-1"))),
    ]
    tail = (f"{root}/gw-1/m-9/readings", batch_json(make_batch(["m-9"], batch_id="last")))
    with capture_logs() as logs:
        publisher = Publisher(host, port)
        publisher.publish_all([*messages[:100], *bad, *messages[100:], tail])
        publisher.close()
        records = await consume(kafka_bootstrap, target.readings_topic, 201)
        dead = await consume(kafka_bootstrap, target.dead_letter_topic, 2, timeout_s=60)
        stop.set()
        stats = await task
    await sink.stop()

    got = sorted((r.key, r.value) for r in records)
    want = sorted((p.split("/")[-2].encode(), v) for p, v in [*messages, tail])
    assert got == want
    # one meter's records stay in one partition, in publish order
    by_meter: dict[bytes | None, set[int]] = {}
    for r in records:
        by_meter.setdefault(r.key, set()).add(r.partition)
    assert all(len(parts) == 1 for parts in by_meter.values())
    in_kafka = [r.value for r in sorted(records, key=lambda r: (r.partition, r.offset))]
    for meter in ("m-0", "m-3"):
        published = [v for t, v in messages if t.endswith(f"/{meter}/readings")]
        assert [v for v in in_kafka if v in set(published)] == published
    lettered = [e for e in logs if e["event"] == "message_dead_lettered"]
    assert [(e["topic"], e["reason_code"]) for e in lettered] == [
        (bad[0][0], "malformed_json"),
        (bad[1][0], "topic_mismatch"),
    ]
    reasons = sorted(
        (dict(r.headers)["reason_code"], dict(r.headers)["mqtt_topic"], r.value) for r in dead
    )
    assert reasons == sorted(
        [
            (b"malformed_json", bad[0][0].encode(), b"{oops"),
            (b"topic_mismatch", bad[1][0].encode(), bad[1][1]),
        ]
    )
    assert (stats.messages, stats.records, stats.dead_letters) == (203, 201, 2)
    assert stats.readings == 200 * 4 + 2


async def test_multi_meter_batch_split(
    mqtt_broker: tuple[str, int], kafka_bootstrap: str, kafka_target: KafkaTarget
) -> None:
    """A gateway's _multi batch arrives in Kafka as one batch per meter, keyed by it."""
    host, port = mqtt_broker
    root = f"test/{unique('br')}"
    target = kafka_target
    sink = KafkaSink(target)
    await sink.start()
    source = our_source(host, port, root)
    bridge = Bridge(source, sink)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    await wait_for(bridge.subscribed)
    batch = make_batch(["a", "b", "c"], source=Source.GATEWAY, per_meter=3)
    publisher = Publisher(host, port)
    publisher.publish_all([(f"{root}/gw-1/_multi/readings", batch_json(batch))])
    publisher.close()
    records = await consume(kafka_bootstrap, target.readings_topic, 3)
    stop.set()
    await task
    await sink.stop()
    from schemas.reading import ReadingBatch

    parts = {r.key: ReadingBatch.model_validate_json(r.value) for r in records}
    assert sorted(parts) == [b"a", b"b", b"c"]
    for key, part in parts.items():
        assert [r.meter_id for r in part.readings] == [key.decode()] * 3
