"""Month close, pure: a system's production for a local month from its meters' register
readings, completeness, erratic-data findings, and an estimate when a meter has no data.

Production is computed exactly as the stream computes it (stream.energy + stream.calendar):
interval energy from register differences, split at local midnights by interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from schemas.reading import QualityFlag
from stream.calendar import DayEnergy, daily_energy, local_day, month_bounds
from stream.energy import Interval, RegisterPoint, intervals

# Typical Massachusetts PV yield, kWh per kW DC, by calendar month (used to estimate).
TYPICAL_KWH_PER_KW = {1: 60, 2: 80, 3: 110, 4: 125, 5: 140, 6: 145, 7: 150, 8: 135, 9: 115,
                      10: 90, 11: 60, 12: 50}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Erratic-data thresholds (PTS does not publish its own; these are ours, as settings)."""

    max_capacity_factor: Decimal = Decimal("0.30")  # above: impossible output for the size
    flat_days: int = 3  # this many whole days in a row with zero energy is a flat line
    max_gap: timedelta = timedelta(days=2)  # readings further apart than this are a gap
    register_tolerance: Decimal = Decimal("0.01")  # interval sum vs register delta: 1%
    night_wh_per_kw: Decimal = Decimal(5)  # more than this per kW between 23:00 and 03:00


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    message: str


@dataclass(slots=True)
class MeterMonth:
    meter_id: str
    energy_wh: int
    readings: int
    covered: bool  # intervals cover the whole month
    estimated: bool = False
    findings: list[Finding] = field(default_factory=list)


def meter_month(
    meter_id: str,
    points: list[RegisterPoint],
    month: str,
    timezone: str,
    capacity_kw_dc: Decimal,
    thresholds: Thresholds = Thresholds(),
) -> MeterMonth:
    tz = ZoneInfo(timezone)
    start, end = month_bounds(month, tz)
    first_day, last_day = local_day(start, tz), local_day(end - timedelta(seconds=1), tz)
    parts = intervals(points)
    days = daily_energy(parts, tz, (first_day, last_day))
    energy = sum(d.energy_wh for d in days.values())
    inside = [p for p in points if start <= p.ts < end]
    covered = bool(parts) and parts[0].start <= start and parts[-1].end >= end
    result = MeterMonth(meter_id, energy, len(inside), covered)
    if not parts or not any(i.end > start and i.start < end for i in parts):
        hours_kw = capacity_kw_dc * TYPICAL_KWH_PER_KW[int(month[5:])] * 1000
        result.energy_wh = int(hours_kw)
        result.estimated = True
        result.findings.append(
            Finding("missing_month", f"no readings for {month}: estimated, not actual")
        )
        return result
    hours = Decimal((end - start).total_seconds()) / 3600
    most = capacity_kw_dc * 1000 * hours * thresholds.max_capacity_factor
    if energy > most:
        result.findings.append(Finding(
            "over_capacity",
            f"{energy} Wh is above {capacity_kw_dc} kW × {hours} h × "
            f"{thresholds.max_capacity_factor} = {most:.0f} Wh",
        ))  # fmt: skip
    if energy == 0:
        result.findings.append(Finding("zero_month", "no production registered all month"))
    else:
        run = _longest_zero_run(days, first_day, last_day)
        if run >= thresholds.flat_days:
            result.findings.append(
                Finding("flat_line", f"{run} whole days in a row with no production")
            )
    month_parts = [i for i in parts if i.end > start and i.start < end]
    if any(QualityFlag.RESET in i.flags for i in month_parts):
        result.findings.append(Finding("backwards_register", "the register went backwards"))
    gaps = [i for i in month_parts if i.end - i.start > thresholds.max_gap]
    if gaps or not covered:
        longest = max((i.end - i.start for i in gaps), default=timedelta(0))
        detail = f"longest gap {longest}" if gaps else "readings do not span the month"
        result.findings.append(Finding("gap", detail))
    register = _register_delta(month_parts, start, end)
    if (
        register is not None
        and energy
        and abs(Decimal(register - energy)) > (thresholds.register_tolerance * energy)
    ):
        result.findings.append(Finding(
            "register_mismatch",
            f"interval sum {energy} Wh differs from the register difference {register} Wh "
            f"by more than {thresholds.register_tolerance:%}",
        ))  # fmt: skip
    night = _night_energy(month_parts, tz)
    if night > capacity_kw_dc * thresholds.night_wh_per_kw:
        result.findings.append(
            Finding("night_production", f"{night} Wh registered between 23:00 and 03:00")
        )
    return result


def _longest_zero_run(days: dict[date, DayEnergy], first: date, last: date) -> int:
    longest = run = 0
    day = first
    while day <= last:
        bucket = days.get(day)
        zero = bucket is None or bucket.energy_wh == 0
        run = run + 1 if zero else 0
        longest = max(longest, run)
        day += timedelta(days=1)
    return longest


def _register_delta(parts: list[Interval], start: datetime, end: datetime) -> int | None:
    """Plain register difference over the month's intervals, ignoring rollover and resets
    (what a naive reading of the register would say); None when there is nothing to compare."""
    if not parts:
        return None
    return sum(i.energy_wh for i in parts if not i.flags & {QualityFlag.RESET})


def _night_energy(parts: list[Interval], tz: ZoneInfo) -> int:
    total = 0
    for i in parts:
        a, b = i.start.astimezone(tz), i.end.astimezone(tz)
        if b - a <= timedelta(hours=4) and _is_night(a) and _is_night(b - timedelta(seconds=1)):
            total += i.energy_wh
    return total


def _is_night(local: datetime) -> bool:
    return local.hour >= 23 or local.hour < 3
