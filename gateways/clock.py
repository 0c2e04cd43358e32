"""Clocks: the system clock, and a stepped clock for simulations (time moves when told)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant (aware, UTC)."""

    async def sleep_until(self, when: datetime) -> None:
        """Return once `when` has come."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class SteppedClock:
    """Simulated time that jumps to wherever it is asked to sleep until."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)

    async def sleep_until(self, when: datetime) -> None:
        if when > self._now:
            self._now = when
        await asyncio.sleep(0)


def next_boundary(now: datetime, interval: timedelta) -> datetime:
    """The first instant at or after `now` aligned to `interval` since the UTC epoch."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    step = int(interval.total_seconds() * 1_000_000)
    elapsed = int((now - epoch).total_seconds() * 1_000_000)
    aligned = -(-elapsed // step) * step
    return epoch + timedelta(microseconds=aligned)
