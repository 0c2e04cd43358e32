"""The bridge's /metrics time every Kafka produce (acks=all) and count the records Kafka
refused: a real producer on the real Kafka, read through the bridge's collector."""

from __future__ import annotations

import asyncio

import pytest

from ingest.bridge import Bridge, MqttSource
from ingest.envelope import Outgoing
from ingest.errors import KafkaUnavailableError
from ingest.kafka_sink import KafkaSink, KafkaTarget
from ingest.metrics import bridge_registry, das_pull_registry
from ingest.topics import OurTopics

pytestmark = pytest.mark.integration


async def test_every_record_is_timed_and_a_refused_one_counted(kafka_target: KafkaTarget) -> None:
    """Five records Kafka acknowledged: five in the latency histogram, none above 30 s, no
    error; a record over the producer's 1 MiB request limit is refused at send: one error,
    still five timed. `pts das pull` serves the same under its own prefix."""
    sink = KafkaSink(kafka_target)
    await sink.start()
    bridge = Bridge(MqttSource("127.0.0.1", 1, "produce-metrics", OurTopics()), sink)
    registry, labels = bridge_registry(bridge), {"client_id": "produce-metrics"}

    def sample(name: str, **more: str) -> float | None:
        return registry.get_sample_value(f"pts_bridge_kafka_produce_{name}", labels | more)

    try:
        assert sample("seconds_count") == 0
        record = Outgoing(key=b"m-1", value=b'{"n": 1}', headers=(), readings=1)
        deliveries = [await sink.send(record) for _ in range(5)]
        await asyncio.gather(*deliveries)
        await asyncio.sleep(0)  # the done-callbacks run on the loop
        assert sample("seconds_count") == 5
        assert sample("seconds_bucket", le="+Inf") == 5
        assert sample("seconds_bucket", le="30.0") == 5
        total = sample("seconds_sum")
        assert total is not None
        assert 0 < total < 5 * 30
        assert sample("errors_total") == 0

        huge = Outgoing(key=b"m-1", value=b"x" * 2_000_000, headers=(), readings=1)
        with pytest.raises(KafkaUnavailableError):
            await sink.send(huge)
        assert sample("errors_total") == 1
        assert sample("seconds_count") == 5
        pull = das_pull_registry(bridge, "sunny")
        assert (
            pull.get_sample_value(
                "pts_das_pull_kafka_produce_errors_total",
                {"provider_id": "sunny", "client_id": "produce-metrics"},
            )
            == 1
        )
    finally:
        await sink.stop()
