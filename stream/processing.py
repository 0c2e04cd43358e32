"""The one processing loop of both engines: messages in, stored readings and refusals out.

`Processor.process` takes a buffer of messages (one for the in-process engine, up to
`max_batch` for the Faust worker) and, for all of them at once:
1. decodes each (size, JSON, envelope: stream.core) — a message that fails is a reject;
2. refreshes the registry snapshots the pure core reads: the meter directory when a message
   names a meter it does not know, the signing keys when they are old or a batch names a
   key they do not hold (stream.registry_directory, stream.key_ring);
3. triages each message (signature, stages, dedupe: stream.core);
4. stores them in one transaction, parking what still fails after bounded attempts
   (stream.persist.persist_isolating);
5. returns the summed outcome and each message's triage with its origin, the parked readings
   among its rejects (the Faust worker produces those to the dead-letter topic), and counts
   them in the totals and the worker metrics.
A database that is unreachable raises (StoreUnavailableError, psycopg.OperationalError):
nothing was acknowledged. `process_until_stored` retries the whole buffer with back-off and
reconnects (the Faust worker, which must not let Kafka acknowledge it); the in-process engine
lets the error reach its caller.

What stays with each engine: the in-process engine hands over one message at a time and
returns its outcome (stream.inprocess); the Faust worker batches Kafka events, gives their
topic/partition/offset as origins, produces the rejects to the dead-letter topic and lets
Faust commit the offsets (stream.faust_app).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog

from schemas.reading import ReadingBatch
from stream.core import Core, Reject, Salvaged, Triage
from stream.errors import StoreUnavailableError
from stream.key_ring import RegistryKeys
from stream.metrics import WorkerMetrics
from stream.persist import Origin, Outcome, WorkLimits, connect_store, persist_isolating
from stream.registry_directory import RegistryDirectory
from stream.stages import Limits

log = structlog.get_logger(__name__)

MAX_RETRY_DELAY_S = 30.0  # of the back-off while the database is unavailable


@dataclass(frozen=True, slots=True)
class Message:
    """One message to process: its payload (bytes as received, or a batch already
    validated), its key (the meter id on Kafka) and where it came from."""

    value: bytes | ReadingBatch
    key: bytes | None
    origin: Origin


@dataclass(slots=True)
class Processed:
    """What one buffer did: the outcome summed over its messages, and each message's triage
    (parked readings among its rejects) with its origin, in the buffer's order."""

    outcome: Outcome
    triaged: list[tuple[Triage, Origin]]


@dataclass(slots=True)
class Totals:
    """Counts over every message a processor has stored."""

    messages: int = 0
    new: int = 0
    duplicate: int = 0
    conflict: int = 0
    rejected: int = 0

    def add(self, outcome: Outcome, messages: int = 1) -> None:
        self.messages += messages
        self.new += outcome.new
        self.duplicate += outcome.duplicate
        self.conflict += outcome.conflict
        self.rejected += len(outcome.rejects)


Connect = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]


class Processor:
    """The core, the registry snapshots and one database connection (module docstring)."""

    def __init__(
        self,
        database_url: str,
        *,
        limits: Limits | None = None,
        work: WorkLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.database_url = database_url
        self.limits = limits or Limits()
        self.work = work or WorkLimits()
        self.clock = clock
        self.metrics = metrics or WorkerMetrics()
        self.totals = Totals()
        self.directory = RegistryDirectory()
        self.keys = RegistryKeys()  # signed batches verified against the registry's keys
        self.core = Core(self.directory, limits=self.limits, keys=self.keys)
        self._aconn: psycopg.AsyncConnection[Any] | None = None

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        """A new connection with the processor's time limits (stream.persist.connect_store)."""
        return await connect_store(self.database_url, self.work)

    async def start(self) -> None:
        """Connect and load the registry's meters and keys."""
        self._aconn = await self.connect()
        await self.directory.load(self._aconn)
        await self.keys.load(self._aconn)

    async def close(self) -> None:
        if self._aconn is not None:
            await self._aconn.close()

    @property
    def connection(self) -> psycopg.AsyncConnection[Any]:
        if self._aconn is None:
            raise RuntimeError("start() the processor before processing messages")
        return self._aconn

    async def process(self, messages: Sequence[Message]) -> Processed:
        """Decode, refresh, triage and store `messages` in one transaction (module
        docstring); raises while the database is unavailable."""
        began = time.perf_counter()
        aconn = self.connection
        decoded = [
            self.core.decode(m.value) if isinstance(m.value, bytes) else m.value for m in messages
        ]
        batches = [
            b.batch if isinstance(b, Salvaged) else b for b in decoded if not isinstance(b, Reject)
        ]
        await self.directory.refresh_for(aconn, {r.meter_id for b in batches for r in b.readings})
        named = {b.signature.key_id for b in batches if b.signature is not None}
        for key_id in [None, *sorted(named)]:  # reload when old, or when a key is not held
            await self.keys.refresh(aconn, key_id)
        now = self.clock()
        triaged = [
            (self.core.triage(b, key=m.key, now=now), m.origin)
            for b, m in zip(decoded, messages, strict=True)
        ]
        done = await persist_isolating(
            aconn, self.directory, triaged, power_tolerance=self.limits.power_tolerance,
            work=self.work,
        )  # fmt: skip
        outcome = done.outcome
        if done.parked:
            triaged = [
                (replace(t, rejects=[*t.rejects, *done.parked[n]]) if n in done.parked else t, o)
                for n, (t, o) in enumerate(triaged)
            ]
        stamp = time.time()
        self.metrics.observe_batch(
            time.perf_counter() - began,
            outcome.new,
            outcome.duplicate,
            outcome.conflict,
            [r for t, _ in triaged for r in t.rejects],
            [(b.source.value, b.source_id, stamp) for b in batches],
        )
        self.totals.add(outcome, len(messages))
        log.debug(
            "messages_processed",
            messages=len(messages),
            new=outcome.new,
            duplicate=outcome.duplicate,
            conflict=outcome.conflict,
            rejected=len(outcome.rejects),
        )
        return Processed(outcome, triaged)

    async def process_until_stored(self, messages: Sequence[Message]) -> Processed:
        """`process`, retried whole while the database is unavailable: wait (0.5 s,
        doubling up to 30 s) and reconnect when the connection is gone."""
        delay = 0.5
        while True:
            try:
                return await self.process(messages)
            except (StoreUnavailableError, psycopg.OperationalError) as exc:
                self.metrics.database_unavailable.inc()
                self._aconn, delay = await back_off(self.connection, delay, exc, self.connect)


async def back_off(
    aconn: psycopg.AsyncConnection[Any], delay: float, exc: Exception, connect: Connect
) -> tuple[psycopg.AsyncConnection[Any], float]:
    """After a database failure: wait `delay`, reconnect if the connection is gone; the
    connection to go on with and the next delay (doubling up to 30 s)."""
    log.warning("database_unavailable", error=str(exc), retry_in_s=delay)
    await asyncio.sleep(delay)
    if aconn.closed or aconn.broken:
        try:
            aconn = await connect()
        except psycopg.OperationalError as again:
            log.warning("database_reconnect_failed", error=str(again))
    return aconn, min(delay * 2, MAX_RETRY_DELAY_S)
