"""Local calendar days and months of a system (DST makes some days 23 or 25 hours)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas.reading import QualityFlag
from stream.energy import Flag, Interval, split_interval


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant (UTC) a local calendar day starts."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants of the first local midnight of `YYYY-MM` and of the next month."""
    first = date.fromisoformat(f"{month}-01")
    following = (first + timedelta(days=32)).replace(day=1)
    return local_midnight(first, tz), local_midnight(following, tz)


def midnights_between(start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """Local midnights strictly after `start` and strictly before `end` (UTC instants)."""
    out = []
    day = local_day(start, tz) + timedelta(days=1)
    while (boundary := local_midnight(day, tz)) < end:
        out.append(boundary)
        day += timedelta(days=1)
    return out


@dataclass(slots=True)
class DayEnergy:
    """Energy registered during one local day, with how it was derived."""

    energy_wh: int = 0
    intervals: int = 0
    flags: set[Flag] = field(default_factory=set)


def daily_energy(
    parts: Iterable[Interval], tz: ZoneInfo, days: tuple[date, date] | None = None
) -> dict[date, DayEnergy]:
    """Energy per local day; an interval across midnight is split by interpolation.

    With `days` = (first, last), only pieces falling on those days are kept.
    """
    ordered = sorted(parts, key=lambda i: i.start)
    out: dict[date, DayEnergy] = {}
    if not ordered:
        return out
    first = local_day(ordered[0].start, tz)
    last = local_day(max(i.end for i in ordered), tz)
    day_list = [first + timedelta(days=n) for n in range((last - first).days + 2)]
    starts = [local_midnight(d, tz) for d in day_list]  # starts[k] begins day_list[k]
    for interval in ordered:
        k = bisect_right(starts, interval.start) - 1  # the day the interval starts in
        boundaries = []
        j = k + 1
        while j < len(starts) and starts[j] < interval.end:
            boundaries.append(starts[j])
            j += 1
        pieces = (
            split_interval(interval, boundaries)
            if boundaries
            else [(interval.start, interval.energy_wh)]
        )
        flags: set[Flag] = set(interval.flags)
        if len(pieces) > 1:
            flags.add(QualityFlag.INTERPOLATED)
        for n, (_, energy) in enumerate(pieces):
            day = day_list[k + n]
            if days is not None and not days[0] <= day <= days[1]:
                continue
            bucket = out.get(day)
            if bucket is None:
                bucket = out[day] = DayEnergy()
            bucket.energy_wh += energy
            bucket.intervals += 1
            bucket.flags |= flags
    return out


def monthly_energy(daily: dict[date, DayEnergy]) -> dict[str, DayEnergy]:
    """Roll local days up to local months (`YYYY-MM`)."""
    out: dict[str, DayEnergy] = {}
    for day, energy in sorted(daily.items()):
        bucket = out.setdefault(day.strftime("%Y-%m"), DayEnergy())
        bucket.energy_wh += energy.energy_wh
        bucket.intervals += energy.intervals
        bucket.flags |= energy.flags
    return out
