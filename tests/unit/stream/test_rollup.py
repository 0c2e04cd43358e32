"""Which local days new readings touch, and their recomputed rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from schemas.reading import QualityFlag
from stream import calendar, rollup
from stream.energy import Interval, PowerLimit, RegisterPoint, split_interval
from stream.rollup import (
    DayRow,
    day_bounds,
    day_from_parts,
    fetch_range,
    months_of,
    recompute_days,
    touched_days,
)

NY = ZoneInfo("America/New_York")


def test_touched_days_reach_the_stored_neighbours() -> None:
    """A late reading on Mar 10 between stored ones on Mar 9 and Mar 12 touches Mar 9-12."""
    late = datetime(2026, 3, 10, 17, tzinfo=UTC)
    before = datetime(2026, 3, 9, 20, tzinfo=UTC)
    after = datetime(2026, 3, 12, 15, tzinfo=UTC)
    assert touched_days(late, late, before, after, NY) == (date(2026, 3, 9), date(2026, 3, 12))
    assert touched_days(late, late, None, None, NY) == (date(2026, 3, 10), date(2026, 3, 10))


def test_fetch_range_spans_local_midnights_across_dst() -> None:
    """Mar 7-8 local: from 05:00 UTC on the 7th to 04:00 UTC on the 9th (EDT from the 8th)."""
    assert fetch_range(date(2026, 3, 7), date(2026, 3, 8), NY) == (
        datetime(2026, 3, 7, 5, tzinfo=UTC),
        datetime(2026, 3, 9, 4, tzinfo=UTC),
    )


def test_recompute_days_splits_across_midnight_and_flags() -> None:
    """2,000 Wh from 23:00 to 01:00 local splits 1,000/1,000; 10 kW × 1.2 flags 12,001 Wh/h."""
    t0 = datetime(2026, 3, 10, 3, tzinfo=UTC)  # 23:00 EDT on Mar 9
    points = [
        RegisterPoint(t0, 0),
        RegisterPoint(t0 + timedelta(hours=2), 2_000),
        RegisterPoint(t0 + timedelta(hours=3), 14_001),
    ]
    got = recompute_days(points, NY, date(2026, 3, 9), date(2026, 3, 10), PowerLimit(Decimal(10)))
    assert got.days == [
        DayRow(date(2026, 3, 9), 1_000, 1, ("interpolated",)),
        DayRow(date(2026, 3, 10), 13_001, 2, ("implausible_power", "interpolated")),
    ]
    assert [i.flags for i in got.intervals] == [frozenset(), {QualityFlag.IMPLAUSIBLE_POWER}]


def test_months_of_days() -> None:
    """Distinct first days of the months, sorted."""
    days = [date(2026, 3, 31), date(2026, 2, 28), date(2026, 3, 1)]
    assert months_of(days) == [date(2026, 2, 1), date(2026, 3, 1)]


def test_a_sixty_day_interval_is_split_exactly_with_work_linear_in_its_days(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A meter silent for 60 days: each local day's share is its exact interpolated piece
    (equal to split_interval's), the shares sum to the interval, and rebuilding all 61 days
    asks for a bounded number of local midnights per day (not the whole span each day)."""
    start = datetime(2026, 1, 10, 17, tzinfo=UTC)  # 12:00 EST
    end = start + timedelta(days=60)  # 13:00 EDT: the DST change lies inside
    interval = Interval(start, end, 5_184_000_007)
    first, last = date(2026, 1, 10), date(2026, 3, 11)
    days = day_bounds(first, last, NY)
    assert len(days) == 61
    boundaries = [lo for _, lo, _ in days[1:]]
    expected = [wh for _, wh in split_interval(interval, boundaries)]
    calls = 0
    real = calendar.local_midnight

    def counting(day: date, tz: ZoneInfo) -> datetime:
        nonlocal calls
        calls += 1
        return real(day, tz)

    monkeypatch.setattr(calendar, "local_midnight", counting)
    monkeypatch.setattr(rollup, "local_midnight", counting)
    rows = [day_from_parts(day, NY, 0, 0, [], [interval]) for day, _, _ in days]
    assert [r.energy_wh if r else None for r in rows] == expected
    assert sum(expected) == 5_184_000_007
    assert all(r is not None and r.intervals == 1 for r in rows)
    assert all(r is not None and r.flags == ("interpolated",) for r in rows)
    assert calls <= 4 * len(days)
