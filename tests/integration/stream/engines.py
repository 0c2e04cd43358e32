"""The two stream engines behind one small test interface, for the engine contract suite.

`InProcess` hands messages to `stream.inprocess.InProcessEngine` (clock fixed at NOW);
`Faust` produces them to a private Kafka topic read by `pts stream worker` processes (real
clock; two batches in flight, small batches, so commits happen out of order) and reads the
worker's counters from its /metrics endpoint.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from prometheus_client.parser import text_string_to_metric_families

from stream.inprocess import InProcessEngine
from stream.stages import Limits
from tests.integration.stream.kafka_support import (
    Worker,
    delete_topics,
    produce_at,
    wait_all_committed,
)

NOW = datetime(2026, 4, 2, tzinfo=UTC)

Message = tuple[bytes, bytes]  # (key: the meter id, value)


@dataclass(frozen=True)
class Position:
    """Where the engine says a message came from (dead_letters.source_*)."""

    topic: str
    partition: int | None
    offset: int | None


@dataclass
class Counts:
    """Readings stored, recognised as duplicates or conflicts, and rejects by reason."""

    new: int = 0
    duplicate: int = 0
    conflict: int = 0
    refused: dict[str, int] = field(default_factory=dict)


class Engine(Protocol):
    name: str
    db: str

    def now(self) -> datetime:
        """The engine's clock (what 'in the future' is measured from)."""
        ...

    async def start(self, power_tolerance: Decimal | None = None) -> None: ...

    async def stop(self) -> None: ...

    async def deliver(self, messages: Sequence[Message]) -> list[Position]:
        """Hand messages over (in order per key); return once every one is committed."""
        ...

    async def counts(self) -> Counts:
        """Counts since the engine last started."""
        ...


class InProcess:
    name = "inprocess"

    def __init__(self, db: str) -> None:
        self.db = db
        self._engine: InProcessEngine | None = None
        self._refused: Counter[str] = Counter()

    def now(self) -> datetime:
        return NOW

    async def start(self, power_tolerance: Decimal | None = None) -> None:
        limits = None if power_tolerance is None else Limits(power_tolerance=power_tolerance)
        self._engine = await InProcessEngine.connect(self.db, clock=lambda: NOW, limits=limits)
        self._refused = Counter()

    async def stop(self) -> None:
        if self._engine is not None:
            await self._engine.close()
            self._engine = None

    def _running(self) -> InProcessEngine:
        assert self._engine is not None, "start() the engine first"
        return self._engine

    async def deliver(self, messages: Sequence[Message]) -> list[Position]:
        engine = self._running()
        for _, value in messages:
            outcome = await engine.submit(value)
            self._refused.update(r.code.value for r in outcome.rejects)
        return [Position("inprocess", None, None)] * len(messages)

    async def counts(self) -> Counts:
        totals = self._running().totals
        return Counts(totals.new, totals.duplicate, totals.conflict, dict(self._refused))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Faust:
    name = "faust"

    def __init__(self, db: str, bootstrap: str, topics: tuple[str, str], tmp: Path) -> None:
        self.db, self.bootstrap, self.tmp = db, bootstrap, tmp
        self.raw, self.dead = topics
        self.group = f"pts-stream-test-{uuid.uuid4().hex[:8]}"
        self._worker: Worker | None = None
        self._started = 0
        self._metrics_port = 0

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def start(self, power_tolerance: Decimal | None = None) -> None:
        self._started += 1
        self._metrics_port = free_port()
        settings = {
            "PTS_STREAM_CONCURRENCY": "2",
            "PTS_STREAM_MAX_BATCH": "16",
            "PTS_STREAM_METRICS_PORT": str(self._metrics_port),
        }
        if power_tolerance is not None:
            settings["PTS_STREAM_POWER_TOLERANCE"] = str(power_tolerance)
        self._worker = Worker(
            f"w{self._started}",
            self.db,
            self.bootstrap,
            self.raw,
            self.dead,
            self.group,
            self.tmp,
            settings,
        )

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    async def close(self) -> None:
        await self.stop()
        if self._started:
            await delete_topics(self.bootstrap, f"{self.group}-__assignor-__leader")

    def _running(self) -> Worker:
        assert self._worker is not None, "start() the engine first"
        return self._worker

    async def deliver(self, messages: Sequence[Message]) -> list[Position]:
        worker = self._running()
        at = await produce_at(self.bootstrap, self.raw, messages)
        await wait_all_committed(self.bootstrap, self.group, self.raw, 150, [worker])
        return [Position(self.raw, partition, offset) for partition, offset in at]

    async def counts(self) -> Counts:
        self._running()
        return await worker_counts(self._metrics_port)


async def worker_counts(metrics_port: int) -> Counts:
    """What one `pts stream worker` counted since it started, read from its /metrics."""
    text = await asyncio.to_thread(_fetch, f"http://127.0.0.1:{metrics_port}/metrics")
    counts = Counts()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "pts_stream_readings_total":
                setattr(counts, _OUTCOMES[sample.labels["outcome"]], int(sample.value))
            elif sample.name == "pts_stream_readings_refused_total" and sample.value:
                counts.refused[sample.labels["reason"]] = int(sample.value)
    return counts


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
    return body.decode()


_OUTCOMES = {"stored": "new", "duplicate": "duplicate", "conflict": "conflict"}
