"""Clocks and poll alignment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateways.clock import SimulatedClock, SteppedClock, next_boundary

T = datetime(2026, 6, 1, 12, 3, 20, 500, tzinfo=UTC)


def test_next_boundary_aligns_to_interval_since_epoch() -> None:
    """Polls fall on :00, :05 … UTC; an instant on a boundary is its own boundary."""
    assert next_boundary(T) == datetime(2026, 6, 1, 12, 5, tzinfo=UTC)
    assert next_boundary(datetime(2026, 6, 1, 12, 5, tzinfo=UTC)) == datetime(
        2026, 6, 1, 12, 5, tzinfo=UTC
    )
    assert next_boundary(T, timedelta(minutes=15)) == datetime(2026, 6, 1, 12, 15, tzinfo=UTC)
    # 1780315404 s = 2026-06-01T12:03:24Z is a multiple of 7 s since the epoch
    assert next_boundary(T, timedelta(seconds=7)) == datetime(2026, 6, 1, 12, 3, 24, tzinfo=UTC)
    local = datetime(2026, 6, 1, 8, 3, tzinfo=timezone(timedelta(hours=-4)))
    assert next_boundary(local) == datetime(2026, 6, 1, 12, 5, tzinfo=UTC)


def test_next_boundary_refuses_zero_interval() -> None:
    """A zero interval has no boundaries."""
    with pytest.raises(ValueError, match=r"^interval must be positive, got 0:00:00$"):
        next_boundary(T, timedelta(0))


async def test_stepped_clock_moves_only_when_slept() -> None:
    """Time stands still until someone sleeps until later; it never goes back."""
    clock = SteppedClock(T)
    assert clock.now() == T
    await clock.sleep_until(T + timedelta(minutes=5))
    assert clock.now() == T + timedelta(minutes=5)
    await clock.sleep_until(T)
    assert clock.now() == T + timedelta(minutes=5)


async def test_simulated_clock_runs_faster() -> None:
    """At speed 3600 a 5-minute simulated sleep takes about 0.083 s of real time."""
    clock = SimulatedClock(T, speed=3600)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await clock.sleep_until(T + timedelta(minutes=5))
    elapsed = loop.time() - began
    assert clock.now() >= T + timedelta(minutes=5)
    assert 0.08 <= elapsed < 1.0
    with pytest.raises(ValueError, match=r"^speed must be positive, got 0$"):
        SimulatedClock(T, speed=0)
