"""Which intervals and local days a set of new readings changes, and their exact energy.
Pure, no I/O.

The rollups are recomputed, never accumulated: when readings land for a meter, every local
day whose energy they can change is recomputed from the stored readings (those of the days,
plus one stored neighbour on each side), then the months of those days are re-summed from
their days. The result depends only on the set of stored readings, so duplicates,
redelivery, restarts, out-of-order and late data, and several workers all give the same totals.

New readings spanning [lo, hi] with stored neighbours `before` (the last reading before lo)
and `after` (the first after hi) change exactly the intervals ending in (before, after]
(`changed_intervals`, derived from the stored readings in [before, after]); they are
upserted keyed by their end. The days touched run from the local day of `before` (or lo) to
the local day of `after` (or hi). A day is then rebuilt from the stored intervals
(`day_from_parts`): the sum of those wholly inside it, plus its share of the (at most two)
intervals crossing its midnights, split by interpolation exactly as `daily_energy` splits
them. The cost per batch follows the new readings, not the length of a day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from schemas.reading import QualityFlag
from stream.calendar import daily_energy, local_day, local_midnight
from stream.energy import Flag, Interval, PowerLimit, RegisterPoint, intervals


@dataclass(frozen=True, slots=True)
class DayRow:
    """A meter's energy on one local day, as stored in the daily rollup."""

    day: date
    energy_wh: int
    intervals: int
    flags: tuple[str, ...]


def touched_days(
    lo: datetime, hi: datetime, before: datetime | None, after: datetime | None, tz: ZoneInfo
) -> tuple[date, date]:
    """First and last local day whose energy new readings in [lo, hi] change."""
    return local_day(before or lo, tz), local_day(after or hi, tz)


def fetch_range(first_day: date, last_day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants bounding the stored readings needed to recompute the days."""
    return local_midnight(first_day, tz), local_midnight(last_day + timedelta(days=1), tz)


@dataclass(frozen=True, slots=True)
class Recomputed:
    """The intervals between the fetched readings and the days they make up."""

    intervals: list[Interval]
    days: list[DayRow]


def recompute_days(
    points: Iterable[RegisterPoint],
    tz: ZoneInfo,
    first_day: date,
    last_day: date,
    limit: PowerLimit | None = None,
) -> Recomputed:
    """Intervals of the points and the energy of each local day in [first_day, last_day]
    that has at least one interval (pass the readings of `fetch_range` plus one neighbour
    on each side)."""
    parts = intervals(points, limit)
    days = daily_energy(parts, tz, (first_day, last_day))
    return Recomputed(
        parts,
        [
            DayRow(day, e.energy_wh, e.intervals, tuple(sorted(f.value for f in e.flags)))
            for day, e in sorted(days.items())
        ],
    )


def changed_intervals(
    points: Iterable[RegisterPoint],
    before: datetime | None,
    after: datetime | None,
    limit: PowerLimit | None = None,
) -> list[Interval]:
    """The intervals ending in (before, after] (None: unbounded), from the stored points
    that cover [before, after]."""
    return [
        i
        for i in intervals(points, limit)
        if (before is None or i.end > before) and (after is None or i.end <= after)
    ]


def day_bounds(
    first_day: date, last_day: date, tz: ZoneInfo
) -> list[tuple[date, datetime, datetime]]:
    """(day, its local midnight, the next local midnight) for each day, as UTC instants."""
    out = []
    day = first_day
    while day <= last_day:
        out.append((day, local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)))
        day += timedelta(days=1)
    return out


def parse_flag(value: str) -> Flag:
    """A stored flag back into its enum."""
    return QualityFlag(value)


def day_share(interval: Interval, lo: datetime, hi: datetime) -> tuple[int, bool] | None:
    """The energy of `interval` falling in the day [lo, hi) (its local midnights, UTC) and
    whether the interval crosses a midnight (INTERPOLATED); None if no piece falls there.

    The same piece `daily_energy` / `split_interval` give (the register interpolated and
    floored at each midnight), computed from the day's two midnights alone: rebuilding D
    days costs D, whatever the length of the intervals crossing them.
    """
    start, end = interval.start.astimezone(UTC), interval.end.astimezone(UTC)
    if not (start < hi and end > lo):
        return None
    span = _micros(end - start)

    def reached(instant: datetime) -> int:
        return interval.energy_wh * _micros(instant - start) // span

    piece_start, piece_end = max(start, lo), min(end, hi)
    energy = (interval.energy_wh if piece_end == end else reached(piece_end)) - (
        0 if piece_start == start else reached(piece_start)
    )
    return energy, start < lo < end or start < hi < end


def day_from_parts(
    day: date,
    tz: ZoneInfo,
    inside_wh: int,
    inside_count: int,
    inside_flags: Iterable[str],
    crossing: Iterable[Interval],
) -> DayRow | None:
    """A day's row from the intervals wholly inside it and those crossing its midnights;
    None when no interval touches the day."""
    lo, hi = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    energy, count, flags = inside_wh, inside_count, set(inside_flags)
    for interval in crossing:
        share = day_share(interval, lo, hi)
        if share is None:
            continue
        energy += share[0]
        count += 1
        flags |= {f.value for f in interval.flags}
        if share[1]:
            flags.add(QualityFlag.INTERPOLATED.value)
    if count == 0:
        return None
    return DayRow(day, energy, count, tuple(sorted(flags)))


def months_of(days: Iterable[date]) -> list[date]:
    """First days of the months the days fall in, sorted."""
    return sorted({d.replace(day=1) for d in days})


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
