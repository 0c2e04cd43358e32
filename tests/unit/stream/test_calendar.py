"""Local days and months in America/New_York, across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.reading import QualityFlag
from stream.calendar import daily_energy, midnights_between, month_bounds, monthly_energy
from stream.energy import Interval, split_interval

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


def _reference_daily(
    parts: list[Interval], tz: ZoneInfo, days: tuple[date, date] | None = None
) -> dict[date, tuple[int, int, frozenset[str]]]:
    """The day split written plainly: every instant compared in UTC, every interval split
    at each local midnight inside it (what daily_energy computed before its fast path)."""
    out: dict[date, tuple[int, int, frozenset[str]]] = {}
    for interval in sorted(parts, key=lambda i: i.start):
        inside = midnights_between(interval.start, interval.end, tz)
        pieces = split_interval(interval, inside)
        flags = {f.value for f in interval.flags}
        if len(pieces) > 1:
            flags.add(QualityFlag.INTERPOLATED.value)
        for piece_start, energy in pieces:
            day = piece_start.astimezone(tz).date()
            if days is not None and not days[0] <= day <= days[1]:
                continue
            wh, n, had = out.get(day, (0, 0, frozenset()))
            out[day] = (wh + energy, n + 1, had | flags)
    return out


ZONES = [UTC, ZoneInfo("UTC"), ZoneInfo("Etc/UTC"), timezone(timedelta(hours=-5)), NY]


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    first=st.datetimes(datetime(2026, 3, 1), datetime(2026, 11, 20)),
    steps=st.lists(
        st.tuples(
            st.integers(1, 60 * 60 * 30),  # seconds to the next reading: up to 30 hours
            st.integers(0, 50_000),
            st.booleans(),
        ),
        min_size=1,
        max_size=40,
    ),
    window=st.one_of(st.none(), st.tuples(st.integers(0, 6), st.integers(0, 6))),
)
def test_daily_energy_equals_the_plain_split(
    zone: tzinfo,
    first: datetime,
    steps: list[tuple[int, int, bool]],
    window: tuple[int, int] | None,
) -> None:
    """Whatever the intervals' tzinfo (UTC three ways, a fixed offset, a DST zone), their
    lengths (a few seconds to over a day, across the 23- and 25-hour days) and the window,
    the days are exactly the plain split's: energy, interval count and flags."""
    at = first.replace(tzinfo=UTC).astimezone(zone)
    parts = []
    for seconds, energy, flagged in steps:
        end = (at.astimezone(UTC) + timedelta(seconds=seconds)).astimezone(zone)
        flags = frozenset({QualityFlag.ROLLOVER}) if flagged else frozenset()
        parts.append(Interval(at, end, energy, flags))
        at = end
    days = None
    if window is not None:
        start = parts[0].start.astimezone(NY).date()
        days = (start + timedelta(days=window[0]), start + timedelta(days=window[1]))
    got = {
        d: (e.energy_wh, e.intervals, frozenset(f.value for f in e.flags))
        for d, e in daily_energy(parts, NY, days).items()
    }
    assert got == _reference_daily(parts, NY, days)


def test_utc_rows_on_the_spring_forward_day_hold_23_hours() -> None:
    """Quarter-hours of 25 Wh as psycopg returns them (tzinfo ZoneInfo('Etc/UTC')) from
    2026-03-08 00:00 local to 2026-03-09 01:00 local: the 23-hour day holds 92 quarter-hours,
    2,300 Wh, the next day 4 (100 Wh)."""
    utc = ZoneInfo("Etc/UTC")
    start = datetime(2026, 3, 8, 5, tzinfo=utc)  # local midnight (EST)
    parts = [
        Interval(start + timedelta(minutes=15 * q), start + timedelta(minutes=15 * q + 15), 25)
        for q in range(96)
    ]
    days = daily_energy(parts, NY)
    assert (days[date(2026, 3, 8)].energy_wh, days[date(2026, 3, 8)].intervals) == (2300, 92)
    assert (days[date(2026, 3, 9)].energy_wh, days[date(2026, 3, 9)].intervals) == (100, 4)


def test_a_quarter_hour_across_midnight_in_utc_rows_is_split() -> None:
    """900 Wh from 23:50 to 00:05 local, rows in ZoneInfo('UTC'): 600 Wh (ten minutes) to the
    first day, 300 to the second, both flagged interpolated."""
    utc = ZoneInfo("UTC")
    start = datetime(2026, 6, 2, 3, 50, tzinfo=utc)  # 23:50 EDT June 1
    days = daily_energy([Interval(start, start + timedelta(minutes=15), 900)], NY)
    assert {d: e.energy_wh for d, e in days.items()} == {
        date(2026, 6, 1): 600,
        date(2026, 6, 2): 300,
    }
    assert all(QualityFlag.INTERPOLATED in e.flags for e in days.values())
