"""The in-process engine: the stream's processing loop with no broker.

Used by the embedded default, the demo, `pts stream redrive` and the fast tests. Feed it
ReadingBatch bytes or objects with `submit` (one message, awaited until committed) or run it
over an async iterable of messages with `run`. Each message goes through
stream.processing.Processor alone (decode → registry refresh → triage → persist in one
transaction → outcome), the same loop the Faust worker runs on its buffers; rejects go to the
`dead_letters` table. A message is acknowledged (the awaiting caller resumes) only after the
database commit; a database that is unavailable raises to the caller.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from datetime import UTC, datetime
from typing import Any, Self

import psycopg

from schemas.reading import ReadingBatch
from stream.persist import Origin, Outcome, WorkLimits
from stream.processing import Message, Processor, Totals
from stream.stages import Limits

__all__ = ["InProcessEngine", "Totals"]


class InProcessEngine:
    """Run the processing loop on messages handed to it, one at a time (one connection)."""

    def __init__(self, processor: Processor, label: str = "inprocess") -> None:
        self._processor = processor
        self._label = label

    @classmethod
    async def connect(
        cls,
        database_url: str,
        label: str = "inprocess",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limits: Limits | None = None,
        work: WorkLimits | None = None,
    ) -> Self:
        processor = Processor(database_url, limits=limits, work=work, clock=clock)
        await processor.start()
        return cls(processor, label)

    @property
    def totals(self) -> Totals:
        """Counts over every message this engine has processed."""
        return self._processor.totals

    @property
    def connection(self) -> psycopg.AsyncConnection[Any]:
        """The engine's one database connection (stream.persist.connect_store's limits)."""
        return self._processor.connection

    async def close(self) -> None:
        await self._processor.close()

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
        origin = Origin(self._label, None if offset is None else 0, offset)
        done = await self._processor.process([Message(message, key, origin)])
        return done.outcome

    async def run(self, messages: AsyncIterable[bytes | ReadingBatch]) -> Totals:
        """Process messages in order until the iterable ends."""
        async for message in messages:
            await self.submit(message)
        return self.totals
