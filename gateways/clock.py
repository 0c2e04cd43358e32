"""Clocks: the system clock, an accelerated clock and a stepped clock for simulations.

Every clock gives aware UTC instants. `next_boundary` aligns polls to interval boundaries
counted from the UTC epoch, so every gateway polls a 5-minute meter at :00, :05, :10 …
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_INTERVAL = timedelta(minutes=5)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant (aware, UTC)."""

    async def sleep_until(self, when: datetime) -> None:
        """Return once `when` has come."""


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class SimulatedClock:
    """Accelerated time: start + (monotonic seconds elapsed) × speed."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds() / self.speed
        if delay > 0:
            await asyncio.sleep(delay)


class SteppedClock:
    """Simulated time that moves only when someone sleeps until a later instant (or sets it)."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)

    async def sleep_until(self, when: datetime) -> None:
        if when > self._now:
            self._now = when.astimezone(UTC)
        await asyncio.sleep(0)


def next_boundary(now: datetime, interval: timedelta = DEFAULT_INTERVAL) -> datetime:
    """The first instant at or after `now` aligned to `interval` since the UTC epoch."""
    step = interval // timedelta(microseconds=1)
    if step <= 0:
        raise ValueError(f"interval must be positive, got {interval}")
    elapsed = (now - EPOCH) // timedelta(microseconds=1)
    aligned = -(-elapsed // step) * step
    return EPOCH + timedelta(microseconds=aligned)
