"""The in-process engine: the shared core and the storage writer with no broker.

Used by the embedded default and the fast tests. Feed it ReadingBatch bytes or objects with
`submit` (one message, awaited until committed) or run it over an async iterable of
messages with `run`. Rejects go to the `dead_letters` table. Per message:
decode → registry refresh if a meter is unknown → core stages → persist (one transaction)
→ return the outcome. A message is acknowledged (the awaiting caller resumes) only after
the database commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import psycopg

from schemas.reading import ReadingBatch
from stream.core import Core, Reject
from stream.key_ring import RegistryKeys
from stream.persist import Origin, Outcome, WorkLimits, connect_store, persist_isolating
from stream.registry_directory import RegistryDirectory
from stream.stages import Limits


@dataclass(slots=True)
class Totals:
    """Counts over every message an engine has processed."""

    messages: int = 0
    new: int = 0
    duplicate: int = 0
    conflict: int = 0
    rejected: int = 0

    def add(self, outcome: Outcome) -> None:
        self.messages += 1
        self.new += outcome.new
        self.duplicate += outcome.duplicate
        self.conflict += outcome.conflict
        self.rejected += len(outcome.rejects)


class InProcessEngine:
    """Run the core on messages handed to it and persist them (one connection)."""

    def __init__(
        self,
        aconn: psycopg.AsyncConnection[Any],
        label: str = "inprocess",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limits: Limits | None = None,
        work: WorkLimits | None = None,
    ) -> None:
        self._aconn = aconn
        self._work = work or WorkLimits()
        self._clock = clock
        self._directory = RegistryDirectory()
        self._keys = RegistryKeys()  # signed batches verified against the registry's keys
        self._core = Core(self._directory, limits=limits, keys=self._keys)
        self._label = label
        self.totals = Totals()

    @classmethod
    async def connect(
        cls,
        database_url: str,
        label: str = "inprocess",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limits: Limits | None = None,
        work: WorkLimits | None = None,
    ) -> Self:
        aconn = await connect_store(database_url, work)
        engine = cls(aconn, label, clock, limits, work)
        await engine._directory.load(aconn)
        return engine

    async def close(self) -> None:
        await self._aconn.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def submit(
        self, message: bytes | ReadingBatch, key: bytes | None = None, offset: int | None = None
    ) -> Outcome:
        """Process one message; returns after its database commit. A reading that still
        fails to store after the bounded attempts is parked (stream.persist) and comes back
        among the outcome's rejects."""
        batch = self._core.decode(message) if isinstance(message, bytes) else message
        if not isinstance(batch, Reject):
            await self._directory.refresh_for(self._aconn, {r.meter_id for r in batch.readings})
            signature = batch.signature
            await self._keys.refresh(self._aconn, signature.key_id if signature else None)
        triage = self._core.triage(batch, key=key, now=self._clock())
        origin = Origin(self._label, None if offset is None else 0, offset)
        done = await persist_isolating(
            self._aconn,
            self._directory,
            [(triage, origin)],
            power_tolerance=self._core.limits.power_tolerance,
            work=self._work,
        )
        self.totals.add(done.outcome)
        return done.outcome

    async def run(self, messages: AsyncIterable[bytes | ReadingBatch]) -> Totals:
        """Process messages in order until the iterable ends."""
        async for message in messages:
            await self.submit(message)
        return self.totals
