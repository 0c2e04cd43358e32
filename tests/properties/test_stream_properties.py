"""Money invariants of the stream core, by property: order, duplication and rollups."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.calendar import daily_energy, monthly_energy
from stream.energy import RegisterPoint, intervals

NY = ZoneInfo("America/New_York")
START = datetime(2026, 10, 30, 0, tzinfo=UTC)  # spans month end and the DST change
MOD = 1_000_000


@st.composite
def register_series(draw: st.DrawFn) -> tuple[list[RegisterPoint], int]:
    """A meter's readings every 1-180 minutes with known increments, wrapping at MOD."""
    steps = draw(
        st.lists(st.tuples(st.integers(1, 180), st.integers(0, 40_000)), min_size=2, max_size=60)
    )
    first = draw(st.integers(0, MOD - 1))
    ts, value, total = START, first, 0
    points = [RegisterPoint(ts, value, modulus_wh=MOD)]
    for minutes, wh in steps:
        ts += timedelta(minutes=minutes)
        value = (value + wh) % MOD
        total += wh
        points.append(RegisterPoint(ts, value, modulus_wh=MOD))
    return points, total


@settings(max_examples=150, deadline=None)
@given(register_series(), st.randoms(use_true_random=False))
def test_total_is_the_registered_energy_whatever_the_delivery(
    series: tuple[list[RegisterPoint], int], rnd: random.Random
) -> None:
    """Shuffled and duplicated deliveries give exactly the energy the meter registered."""
    points, registered = series
    delivered = points + rnd.sample(points, k=len(points) // 2)
    rnd.shuffle(delivered)
    months = monthly_energy(daily_energy(intervals(delivered), NY))
    assert sum(m.energy_wh for m in months.values()) == registered


@settings(max_examples=100, deadline=None)
@given(register_series())
def test_dedupe_twice_is_dedupe_once(series: tuple[list[RegisterPoint], int]) -> None:
    """Intervals of intervals' points equal the intervals (deduping is idempotent)."""
    points, _ = series
    once = intervals(points + points)
    assert intervals(points + points + points) == once


@settings(max_examples=100, deadline=None)
@given(register_series())
def test_monthly_equals_sum_of_its_days(series: tuple[list[RegisterPoint], int]) -> None:
    """The rollup of daily rollups equals each month's direct total."""
    points, _ = series
    days = daily_energy(intervals(points), NY)
    months = monthly_energy(days)
    for month, energy in months.items():
        assert energy.energy_wh == sum(
            e.energy_wh for d, e in days.items() if d.strftime("%Y-%m") == month
        )
