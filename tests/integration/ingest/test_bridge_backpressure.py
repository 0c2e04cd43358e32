"""Bridge behaviour when Kafka is slow or failing, on the real Mosquitto: bounded memory,
and nothing acknowledged that Kafka did not take (the sink here stands in for a stalled or
failing Kafka, which the shared broker cannot be made to be)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ingest.bridge import Bridge
from ingest.envelope import Outgoing
from ingest.errors import KafkaUnavailableError
from tests.integration.ingest.support import Publisher, our_source, unique, wait_for
from tests.integration.stream.kafka_support import wait_for as until
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration


class GatedSink:
    """Takes records at once; acknowledges them only when the gate opens (or fails them)."""

    def __init__(self, fail: bool = False) -> None:
        self.records: list[Outgoing] = []
        self.gate = asyncio.Event()
        self.fail = fail

    async def send(self, record: Outgoing) -> asyncio.Task[Any]:
        self.records.append(record)
        return asyncio.create_task(self._ack())

    async def _ack(self) -> None:
        await self.gate.wait()
        if self.fail:
            raise KafkaUnavailableError("broker gone")


def _messages(root: str, count: int) -> list[tuple[str, bytes]]:
    return [
        (f"{root}/gw-1/m-1/readings", batch_json(make_batch(["m-1"], batch_id=f"b-{n}")))
        for n in range(count)
    ]


async def test_slow_kafka_bounds_what_is_held(mqtt_broker: tuple[str, int]) -> None:
    """With capacity 5 and Kafka not acking, the bridge holds 5 messages and no more; when
    Kafka catches up, all 40 flow, in order."""
    host, port = mqtt_broker
    root = f"test/{unique('bp')}"
    sink = GatedSink()
    source = our_source(host, port, root, capacity=5)
    bridge = Bridge(source, sink)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    await wait_for(bridge.subscribed)
    messages = _messages(root, 40)
    publisher = Publisher(host, port)
    await asyncio.to_thread(publisher.publish_all, messages)
    # the broker routed all 40; the bridge takes its window (5), then must take no more for
    # as long as Kafka does not acknowledge: a second looks for a sixth
    await until(lambda: len(sink.records) >= 5, 30, "the bridge to take 5 messages", 0.05)
    await asyncio.sleep(1.0)
    held = len(sink.records)
    sink.gate.set()
    await until(lambda: bridge.stats.messages >= 40, 30, "all 40 acknowledged", 0.05)
    publisher.close()
    stop.set()
    stats = await task
    assert held == 5
    assert [r.value for r in sink.records] == [p for _, p in messages]
    assert stats.messages == 40


async def test_failed_produce_is_not_acked(mqtt_broker: tuple[str, int]) -> None:
    """Kafka fails the produce: the bridge stops with KafkaUnavailableError, never acks, and a
    bridge restarted with the same client id gets the message again (flagged DUP)."""
    host, port = mqtt_broker
    root = f"test/{unique('fail')}"
    client_id = unique("bridge")
    failing = GatedSink(fail=True)
    first = Bridge(
        our_source(host, port, root, client_id),
        failing,
    )
    task = asyncio.create_task(first.run(asyncio.Event()))
    await wait_for(first.subscribed)
    [(topic, payload)] = _messages(root, 1)
    publisher = Publisher(host, port)
    await asyncio.to_thread(publisher.publish_all, [(topic, payload)])
    publisher.close()
    failing.gate.set()
    with pytest.raises(KafkaUnavailableError) as info:
        await asyncio.wait_for(task, 10)
    assert str(info.value).startswith(f"Kafka did not acknowledge a record from {topic}")
    assert first.stats.messages == 0

    healthy = GatedSink()
    healthy.gate.set()
    second = Bridge(
        our_source(host, port, root, client_id),
        healthy,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(second.run(stop))
    await until(lambda: second.stats.messages > 0, 30, "the message given again", 0.05)
    stop.set()
    stats = await task
    assert [r.value for r in healthy.records] == [payload]
    assert (stats.messages, stats.redelivered) == (1, 1)
