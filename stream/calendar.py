"""Local calendar days and months of a system (DST makes some days 23 or 25 hours)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
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

    The local midnights are compared with the intervals in the intervals' own tzinfo when
    that is UTC or another fixed offset (psycopg's rows, month close's points): aware
    datetimes sharing one tzinfo object compare field by field, mixed ones call utcoffset()
    on both sides of every comparison (profiled: most of this function's time). Intervals in
    a zone with DST are compared in UTC, exactly as before.
    """
    ordered = sorted(parts, key=_start)
    out: dict[date, DayEnergy] = {}
    if not ordered:
        return out
    first = local_day(ordered[0].start, tz)
    last = local_day(max(i.end for i in ordered), tz)
    day_list = [first + timedelta(days=n) for n in range((last - first).days + 2)]
    same = _fixed_offset(ordered)
    starts = [  # starts[k] begins day_list[k]
        local_midnight(d, tz) if same is None else local_midnight(d, tz).astimezone(same)
        for d in day_list
    ]
    kept = (day_list[0], day_list[-1]) if days is None else days
    interpolated = QualityFlag.INTERPOLATED
    for interval in ordered:
        k = bisect_right(starts, interval.start) - 1  # the day the interval starts in
        if k + 1 >= len(starts) or not starts[k + 1] < interval.end:
            day = day_list[k]  # wholly inside one day: nothing to split (most intervals)
            if kept[0] <= day <= kept[1]:
                bucket = out.get(day)
                if bucket is None:
                    bucket = out[day] = DayEnergy()
                bucket.energy_wh += interval.energy_wh
                bucket.intervals += 1
                if interval.flags:
                    bucket.flags |= interval.flags
            continue
        boundaries = []
        j = k + 1
        while j < len(starts) and starts[j] < interval.end:
            boundaries.append(starts[j])
            j += 1
        flags: set[Flag] = set(interval.flags)
        flags.add(interpolated)
        for n, (_, energy) in enumerate(split_interval(interval, boundaries)):
            day = day_list[k + n]
            if not kept[0] <= day <= kept[1]:
                continue
            bucket = out.get(day)
            if bucket is None:
                bucket = out[day] = DayEnergy()
            bucket.energy_wh += energy
            bucket.intervals += 1
            bucket.flags |= flags
    return out


def _start(interval: Interval) -> datetime:
    return interval.start


def _fixed_offset(ordered: list[Interval]) -> tzinfo | None:
    """The one tzinfo of every interval's start and end when it is a fixed offset (UTC, or
    any zone whose utcoffset never changes), else None."""
    zone = ordered[0].start.tzinfo
    if zone is None or not (zone in _FIXED or isinstance(zone, timezone)):
        return None
    if any(i.start.tzinfo is not zone or i.end.tzinfo is not zone for i in ordered):
        return None
    return zone


_FIXED = (UTC, ZoneInfo("UTC"), ZoneInfo("Etc/UTC"))


def monthly_energy(daily: dict[date, DayEnergy]) -> dict[str, DayEnergy]:
    """Roll local days up to local months (`YYYY-MM`)."""
    out: dict[str, DayEnergy] = {}
    for day, energy in sorted(daily.items()):
        bucket = out.setdefault(day.strftime("%Y-%m"), DayEnergy())
        bucket.energy_wh += energy.energy_wh
        bucket.intervals += energy.intervals
        bucket.flags |= energy.flags
    return out
