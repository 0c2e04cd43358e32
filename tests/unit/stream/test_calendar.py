"""Local days and months in America/New_York, across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from schemas.reading import QualityFlag
from stream.calendar import daily_energy, midnights_between, month_bounds, monthly_energy
from stream.energy import Interval

NY = ZoneInfo("America/New_York")


def test_month_bounds_follow_local_midnight_and_dst() -> None:
    """October 2026 starts at 04:00 UTC (EDT) and November ends at 05:00 UTC (EST)."""
    assert month_bounds("2026-10", NY) == (
        datetime(2026, 10, 1, 4, tzinfo=UTC),
        datetime(2026, 11, 1, 4, tzinfo=UTC),
    )
    assert month_bounds("2026-11", NY) == (
        datetime(2026, 11, 1, 4, tzinfo=UTC),
        datetime(2026, 12, 1, 5, tzinfo=UTC),
    )


def test_dst_days_are_23_and_25_hours() -> None:
    """2026-03-08 has 23 hours, 2026-11-01 has 25."""
    spring = midnights_between(
        datetime(2026, 3, 7, 12, tzinfo=UTC), datetime(2026, 3, 9, 12, tzinfo=UTC), NY
    )
    fall = midnights_between(
        datetime(2026, 10, 31, 12, tzinfo=UTC), datetime(2026, 11, 2, 12, tzinfo=UTC), NY
    )
    assert spring[1] - spring[0] == timedelta(hours=23)
    assert fall[1] - fall[0] == timedelta(hours=25)


def test_hourly_energy_on_the_fall_back_day_has_25_hours() -> None:
    """100 Wh every hour on 2026-11-01 local: the day holds 2,500 Wh."""
    start = datetime(2026, 11, 1, 4, tzinfo=UTC)  # local midnight
    parts = [
        Interval(start + timedelta(hours=h), start + timedelta(hours=h + 1), 100) for h in range(27)
    ]
    days = daily_energy(parts, NY)
    assert days[date(2026, 11, 1)].energy_wh == 2500
    assert days[date(2026, 11, 2)].energy_wh == 200


def test_interval_across_month_end_is_interpolated() -> None:
    """600 Wh from 23:00 Oct 31 to 01:00 Nov 1 local: 300 to October, 300 to November."""
    start = datetime(2026, 11, 1, 3, tzinfo=UTC)  # 23:00 EDT Oct 31
    days = daily_energy([Interval(start, start + timedelta(hours=2), 600)], NY)
    months = monthly_energy(days)
    assert {k: v.energy_wh for k, v in months.items()} == {"2026-10": 300, "2026-11": 300}
    assert QualityFlag.INTERPOLATED in months["2026-10"].flags


def test_days_window_keeps_only_those_days() -> None:
    """Restricting to a window of days drops pieces outside it."""
    start = datetime(2026, 6, 1, 4, tzinfo=UTC)
    parts = [Interval(start, start + timedelta(days=3), 3000)]
    kept = daily_energy(parts, NY, days=(date(2026, 6, 2), date(2026, 6, 2)))
    assert {d: e.energy_wh for d, e in kept.items()} == {date(2026, 6, 2): 1000}
