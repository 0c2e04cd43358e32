"""Kafka side of ingest: an idempotent producer (acks=all) and the sink port it fills.

`send` enqueues one record and returns the delivery future; a caller acknowledges its own
source (MQTT PUBACK, HTTP answer) only after that future resolved: Kafka has the record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ingest.envelope import Outgoing
from ingest.errors import KafkaUnavailableError
from ingest.produce_stats import ProduceStats
from pts.kafka_config import KafkaConnection

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class KafkaTarget:
    """Where ingest produces: the readings topic and the dead-letter topic, reached through
    `connection` (security from the settings, pts.kafka_config) or plainly at `bootstrap`."""

    bootstrap: str
    readings_topic: str = "readings.raw"
    dead_letter_topic: str = "readings.dead-letter"
    linger_ms: int = 5
    request_timeout_ms: int = 30_000
    security: KafkaConnection | None = None

    @property
    def connection(self) -> KafkaConnection:
        return self.security or KafkaConnection(self.bootstrap)

    @property
    def topics(self) -> list[str]:
        return [self.readings_topic, self.dead_letter_topic]


class RecordSink(Protocol):
    """Takes a record; the awaitable it returns resolves once the record is stored."""

    async def send(self, record: Outgoing) -> Awaitable[Any]: ...


class KafkaSink:
    """An idempotent aiokafka producer writing Outgoing records to the right topic."""

    def __init__(self, target: KafkaTarget) -> None:
        self.target = target
        self.produce = ProduceStats()  # latency and errors, for the metrics (ingest.metrics)
        self._producer = AIOKafkaProducer(
            **target.connection.client_kwargs(),
            client_id="pts-ingest",
            acks="all",
            enable_idempotence=True,
            linger_ms=target.linger_ms,
            max_batch_size=1_048_576,
            max_request_size=1_048_576,
            request_timeout_ms=target.request_timeout_ms,
        )

    async def start(self) -> None:
        try:
            await self._producer.start()
        except KafkaError as exc:
            await self._producer.stop()
            raise KafkaUnavailableError(
                f"Kafka at {self.target.connection.describe()} is not reachable ({exc!r}); "
                "is it running, and are the address and credentials right?"
            ) from exc
        log.info("kafka_producer_started", kafka=self.target.connection.describe())

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, record: Outgoing) -> asyncio.Future[Any]:
        topic = self.target.dead_letter_topic if record.dead_letter else self.target.readings_topic
        started = time.perf_counter()  # waiting for room in the producer's buffer counts too
        try:
            future: asyncio.Future[Any] = await self._producer.send(
                topic, value=record.value, key=record.key, headers=list(record.headers)
            )
        except KafkaError as exc:
            self.produce.errors += 1
            raise KafkaUnavailableError(f"Kafka refused a record for {topic}: {exc}") from exc
        self.produce.track(future, started)
        return future

    async def flush(self) -> None:
        await self._producer.flush()
