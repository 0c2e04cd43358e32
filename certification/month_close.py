"""Month close, pure: a system's production for a local month from its meters' register
readings, completeness, erratic-data findings, and an estimate when a meter has no data.

Production is computed exactly as the stream computes it (stream.energy + stream.calendar,
ADR 0005): interval energy from register differences with the same power limit (capacity ×
PTS_STREAM_POWER_TOLERANCE, which also decides whether a wrap is plausible), split at local
midnights by interpolation.

Findings that question the energy itself hold the month (certification.holds); a backwards
step of the register (unannounced reset, glitch, a restart restoring an older value) is
counted 0 and reported as backwards_register.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from certification.capacity_history import CapacityHistory, capacity_bound
from certification.errors import Refused
from certification.holds import HOLDING_FINDINGS
from certification.window import window_for
from schemas.reading import QualityFlag, ReadingEvent
from schemas.registry import Meter
from stream.calendar import DayEnergy, daily_energy, local_day, local_midnight, month_bounds
from stream.energy import (
    DEFAULT_POWER_TOLERANCE,
    ROLLOVER_MIN_SPAN,
    Interval,
    PowerLimit,
    RegisterPoint,
    intervals,
    split_interval,
)

# Typical Massachusetts PV yield, kWh per kW DC, by calendar month (used to estimate).
TYPICAL_KWH_PER_KW = {
    1: 60,
    2: 80,
    3: 110,
    4: 125,
    5: 140,
    6: 145,
    7: 150,
    8: 135,
    9: 115,
    10: 90,
    11: 60,
    12: 50,
}


_UTC_ZONES = (UTC, ZoneInfo("UTC"), ZoneInfo("Etc/UTC"))  # subtraction is exact in these


class MonthCloseSettings(Protocol):
    """The settings month close reads (pts.settings.Settings has them; certification does
    not import the edge)."""

    @property
    def erratic_max_capacity_factor(self) -> float: ...
    @property
    def stream_power_tolerance(self) -> Decimal: ...
    @property
    def month_close_holding_findings(self) -> frozenset[str]: ...
    @property
    def month_close_max_interpolation_h(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Erratic-data thresholds (PTS does not publish its own; these are ours, as settings)."""

    max_capacity_factor: Decimal = Decimal("0.30")  # above: impossible output for the size
    flat_days: int = 3  # this many whole days in a row with zero energy is a flat line
    max_gap: timedelta = timedelta(days=2)  # readings further apart than this are a gap
    # a month boundary may be interpolated across an interval up to this long; longer, the
    # month's share is an estimate (PTS_MONTH_CLOSE_MAX_INTERPOLATION_H)
    max_interpolation: timedelta = timedelta(hours=3)
    manual_max_gap: timedelta = timedelta(days=45)  # the same for monthly manual reports
    register_tolerance: Decimal = Decimal("0.01")  # interval sum vs register delta: 1%
    night_wh_per_kw: Decimal = Decimal(5)  # more than this per kW between 23:00 and 03:00
    # the stream's power limit (PTS_STREAM_POWER_TOLERANCE): one definition of energy
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE
    # findings that hold a month from minting and export (PTS_MONTH_CLOSE_HOLDING_FINDINGS)
    holding: frozenset[str] = HOLDING_FINDINGS

    @classmethod
    def from_settings(
        cls, settings: MonthCloseSettings, max_capacity_factor: Decimal | None = None
    ) -> Thresholds:
        """The thresholds the settings give (the one constructor for the CLI and the web);
        `max_capacity_factor`: a command's override of PTS_ERRATIC_MAX_CAPACITY_FACTOR, in
        (0, 1] like the setting (above 1, output beyond nameplate all month would mint)."""
        if max_capacity_factor is not None and not (
            max_capacity_factor.is_finite() and 0 < max_capacity_factor <= 1
        ):
            raise Refused(
                "bad_capacity_factor",
                f"--max-capacity-factor {max_capacity_factor} is not above 0 and at most 1 "
                "(1: the nameplate all month); it may tighten the over-capacity bound, never "
                "lift it past what a system can produce",
            )
        return cls(
            max_capacity_factor=max_capacity_factor
            if max_capacity_factor is not None
            else Decimal(str(settings.erratic_max_capacity_factor)),
            power_tolerance=settings.stream_power_tolerance,
            # the setting adds holding findings; the defaults always hold (they question
            # the energy itself: made advisory, flagged energy would mint)
            holding=settings.month_close_holding_findings | HOLDING_FINDINGS,
            max_interpolation=timedelta(hours=settings.month_close_max_interpolation_h),
        )


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
    # the readings the month's energy comes from: the first and last register points used
    # (the ones bracketing the month, interpolated at local midnight of the 1st)
    first: tuple[datetime, int] | None = None
    last: tuple[datetime, int] | None = None
    # where counting stopped: the month's end when covered, else the last reading; the next
    # close resumes from here
    end_at: datetime | None = None
    # readings in [first, last] (what a late-readings check counts again), None: no span
    span_readings: int | None = None
    # how the energy was derived: interval flags (rollover, reset, ...), plus interpolated /
    # estimated when the month's boundary was split inside an interval
    flags: set[str] = field(default_factory=set)
    # the capacity (kW DC) its power limit was at: the largest in force in the hours counted
    power_kw_dc: Decimal | None = None


def active_meters(meters: Sequence[Meter], month: str) -> list[Meter]:
    """Meters installed on or before the month's last day and not removed before its first."""
    first = date.fromisoformat(f"{month}-01")
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return [
        m
        for m in meters
        if m.installed_on <= last and (m.removed_on is None or m.removed_on >= first)
    ]


def estimate_wh(capacity_kw_dc: Decimal, month: str, history_wh: Sequence[int] = ()) -> int:
    """A missing month's estimate: the mean of the same calendar month's actual production in
    earlier years when there is any, else capacity × the typical yield of the month."""
    if history_wh:
        return sum(history_wh) // len(history_wh)
    return int(capacity_kw_dc * TYPICAL_KWH_PER_KW[int(month[5:])] * 1000)


def most_plausible_wh(
    capacity_kw_dc: Decimal | CapacityHistory,
    month: str,
    timezone: str,
    thresholds: Thresholds = Thresholds(),
) -> Decimal:
    """The most energy a system can produce in a local month before its output is erratic
    (over_capacity): capacity × the month's hours × the maximum capacity factor; with a
    capacity history, the capacity in force hour by hour (certification.capacity_history)."""
    start, end = month_bounds(month, ZoneInfo(timezone))
    if isinstance(capacity_kw_dc, CapacityHistory):
        return capacity_kw_dc.bound(start, end, thresholds.max_capacity_factor)[0]
    hours = Decimal((end - start).total_seconds()) / 3600
    return capacity_kw_dc * 1000 * hours * thresholds.max_capacity_factor


def meter_month(
    meter_id: str,
    points: list[RegisterPoint],
    month: str,
    timezone: str,
    capacity_kw_dc: Decimal,
    thresholds: Thresholds = Thresholds(),
    history_wh: Sequence[int] = (),
    since: datetime | None = None,
    manual: bool = False,
    meters: int = 1,
    capacity: CapacityHistory | None = None,
) -> MeterMonth:
    """The meter's month. `since` is where the previous close stopped counting (its `end_at`):
    when that is before the month's start (the last report came before month end), counting
    resumes there, so no energy falls between two closes and none is counted twice.
    `meters`: how many meters the system has in the month; a silent one is estimated at its
    share (the registry has no capacity per meter: capacity and history split evenly).
    `capacity`: the system's capacity over time; when given, the capacity in force bounds
    the month (certification.capacity_history: the energy bound over the hours counted, the
    power limit and the rest at the largest capacity in force), not `capacity_kw_dc`."""
    tz = ZoneInfo(timezone)
    # in UTC: Python subtracts two datetimes sharing a tzinfo by wall clock (DST ignored)
    # (a copy only for a point in another zone: profiled, the copies were a fifth of close)
    points = sorted(
        (p if p.ts.tzinfo in _UTC_ZONES else replace(p, ts=p.ts.astimezone(UTC)) for p in points),
        key=_ts,
    )
    start, end = month_bounds(month, tz)
    first_day, last_day = local_day(start, tz), local_day(end - timedelta(seconds=1), tz)
    # the instants compared with the points in the points' own UTC tzinfo: aware datetimes
    # with one tzinfo object compare without calling utcoffset (profiled: a fifth of close)
    utc = points[0].ts.tzinfo if points else UTC
    start, end = start.astimezone(utc), end.astimezone(utc)
    counted_from = since.astimezone(utc) if since is not None and since < start else start
    pieces = [(counted_from, end, capacity_kw_dc)]
    if capacity is not None:
        pieces = capacity.pieces(counted_from, end)
        capacity_kw_dc = max(kw for _, _, kw in pieces)
    limit = PowerLimit(capacity_kw_dc, thresholds.power_tolerance)
    parts = intervals(points, limit)
    days = daily_energy(parts, tz, (first_day, last_day))  # the month's own days
    energy = counted_energy(parts, counted_from, end)
    stamps = [p.ts for p in points]
    inside = bisect_left(stamps, end) - bisect_left(stamps, start)
    covered = bool(parts) and parts[0].start <= counted_from and parts[-1].end >= end
    result = MeterMonth(meter_id, energy, inside, covered, end_at=since, power_kw_dc=capacity_kw_dc)
    if not parts or not any(i.end > counted_from and i.start < end for i in parts):
        share_kw = capacity_kw_dc / meters
        result.energy_wh = estimate_wh(share_kw, month, [h // meters for h in history_wh])
        result.estimated = True
        result.flags.add(QualityFlag.ESTIMATED.value)
        # the next close resumes where this one would have started: the estimate's true-up
        result.end_at = counted_from
        basis = "history of the same month" if history_wh else "capacity × typical yield"
        if meters > 1:
            basis += (
                f" (its share: {share_kw.normalize():f} kW DC of "
                f"{capacity_kw_dc.normalize():f} kW DC, {meters} meters)"
            )
        result.findings.append(
            Finding("missing_month", f"no readings for {month}: estimated from {basis}, not actual")
        )
        return result
    result.end_at = min(end, parts[-1].end)
    most, bound = capacity_bound(pieces, thresholds.max_capacity_factor)
    if energy > most:
        result.findings.append(
            Finding(
                "over_capacity",
                f"{energy} Wh is above {bound} × {thresholds.max_capacity_factor} = {most:.0f} Wh",
            )
        )
    if energy == 0:
        result.findings.append(Finding("zero_month", "no production registered all month"))
    else:
        run = _longest_zero_run(days, first_day, last_day)
        if run >= thresholds.flat_days:
            result.findings.append(
                Finding("flat_line", f"{run} whole days in a row with no production")
            )
    # parts are in time order and follow one another: the month's are one slice of them
    ends = [i.end for i in parts]
    month_parts = parts[bisect_right(ends, counted_from) : bisect_left(ends, end) + 1]
    month_parts = [i for i in month_parts if i.start < end]

    def wh_at(ts: datetime) -> int:
        return points[bisect_left(stamps, ts)].energy_wh

    result.first = (month_parts[0].start, wh_at(month_parts[0].start))
    result.last = (month_parts[-1].end, wh_at(month_parts[-1].end))
    result.span_readings = bisect_right(stamps, result.last[0]) - bisect_left(
        stamps, result.first[0]
    )
    max_gap = thresholds.manual_max_gap if manual else thresholds.max_gap
    # one pass over the month's intervals; most carry no flag and fit every rule
    flagged, split, gaps = [], [], []
    for i in month_parts:
        if i.flags:
            flagged.append(i)
        if i.start < counted_from < i.end or i.start < end < i.end:
            split.append(i)
        if i.end - i.start > max_gap:
            gaps.append(i)
    backwards = [i for i in flagged if _BACKWARDS & i.flags]
    if backwards:
        steps = ", ".join(
            f"{wh_at(i.start)} Wh → {wh_at(i.end)} Wh at {i.end.isoformat()}" for i in backwards[:3]
        )
        more = f" and {len(backwards) - 3} more" if len(backwards) > 3 else ""
        result.findings.append(
            Finding(
                "backwards_register",
                f"the register went backwards ({steps}{more}); each step counted 0",
            )
        )
    result.flags |= {f.value for i in flagged for f in i.flags}
    if split:
        result.flags.add(QualityFlag.INTERPOLATED.value)
    long_splits = [i for i in split if i.end - i.start > thresholds.max_interpolation]
    if long_splits and not manual:  # manual monthly reads are apportioned by rule
        result.flags.add(QualityFlag.ESTIMATED.value)
        result.findings.append(
            Finding(
                "estimated_boundary",
                "the month's share of "
                + ", ".join(f"{i.start.isoformat()} → {i.end.isoformat()}" for i in long_splits)
                + f" is interpolated across more than {thresholds.max_interpolation}: an estimate",
            )
        )
    if flagged:
        for wh, a, b in _implausible_power(month_parts, limit):
            result.findings.append(
                Finding(
                    "implausible_power",
                    f"{wh} Wh from {a.isoformat()} to {b.isoformat()} is "
                    f"above {capacity_kw_dc} kW DC × {thresholds.power_tolerance}",
                )
            )
    replaced = [i for i in flagged if QualityFlag.METER_REPLACED in i.flags]
    unread = [
        i
        for i in replaced
        if points[bisect_left(stamps, i.start)].event is not ReadingEvent.CLOSING
    ]
    for i in unread:
        result.findings.append(
            Finding(
                "replacement_unread",
                f"meter replaced by {i.end.isoformat()} without the old meter's closing reading: "
                f"its energy after {i.start.isoformat()} is counted 0; report its final register",
            )
        )
    # a manual report taken in the window before month end counts the month up to it
    reported_in_window = manual and parts[-1].end >= window_for(month, timezone)[0]
    if gaps or not (covered or (reported_in_window and parts[0].start <= counted_from)):
        longest = max((i.end - i.start for i in gaps), default=timedelta(0))
        if gaps:
            detail = f"longest gap {longest}"
        elif parts[0].start > counted_from:
            detail = f"no reading from {counted_from.isoformat()} to {parts[0].start.isoformat()}"
        else:
            detail = f"no reading after {parts[-1].end.isoformat()}"
        result.findings.append(Finding("gap", detail))
    if not replaced:
        register = _plain_register_delta(points, stamps, counted_from, result.end_at)
        if register is not None and abs(Decimal(register - energy)) > (
            thresholds.register_tolerance * energy
        ):
            result.findings.append(
                Finding(
                    "register_mismatch",
                    f"interval sum {energy} Wh differs from the register difference "
                    f"{register} Wh by more than {thresholds.register_tolerance:%}",
                )
            )
    else:  # a meter swap: each meter's segment against its own register
        for lo, hi, summed, register in _segment_registers(
            points, parts, counted_from, result.end_at
        ):
            if abs(Decimal(register - summed)) > thresholds.register_tolerance * summed:
                result.findings.append(
                    Finding(
                        "register_mismatch",
                        f"meter segment {lo.isoformat()} → {hi.isoformat()}: interval sum "
                        f"{summed} Wh differs from the register difference {register} Wh by "
                        f"more than {thresholds.register_tolerance:%}",
                    )
                )
    night = _night_energy(month_parts, tz)
    if night > capacity_kw_dc * thresholds.night_wh_per_kw:
        result.findings.append(
            Finding("night_production", f"{night} Wh registered between 23:00 and 03:00")
        )
    return result


def system_over_capacity(
    meters: Sequence[MeterMonth],
    counted_from: datetime,
    end: datetime,
    capacity_kw_dc: Decimal,
    thresholds: Thresholds = Thresholds(),
    capacity: CapacityHistory | None = None,
) -> Finding | None:
    """over_capacity of a system's meters together: each meter is checked against the
    system's capacity (the registry has none per meter), so two meters each under the bound
    can sum above what the system can produce. `counted_from`: the earliest instant a
    metered meter was counted from. None when one meter or fewer is metered, or a meter was
    over capacity already."""
    metered = [m for m in meters if not m.estimated]
    if len(metered) < 2 or any(f.code == "over_capacity" for m in metered for f in m.findings):
        return None
    energy = sum(m.energy_wh for m in metered)
    pieces = (
        [(counted_from, end, capacity_kw_dc)]
        if capacity is None
        else capacity.pieces(counted_from, end)
    )
    most, bound = capacity_bound(pieces, thresholds.max_capacity_factor, plain=True)
    if energy <= most:
        return None
    return Finding(
        "over_capacity",
        f"the system's meters together: {energy} Wh is above {bound} × "
        f"{thresholds.max_capacity_factor} = {most:.0f} Wh",
    )


def resumed_over_capacity(
    month: str,
    first_month: str,
    resumed_from: datetime,
    certified_wh: int,
    earlier_wh: int,
    capacity: CapacityHistory,
    thresholds: Thresholds = Thresholds(),
) -> Finding | None:
    """over_capacity of a system's meters over the window a resuming meter is counted in.

    A meter silent in earlier months (estimated there) is counted again from where it
    stopped (`resumed_from`, in `first_month`), so this month's `certified_wh` holds its
    energy of those months; the other meters' energy of them was certified by those months'
    closes (`earlier_wh`). Together they are what the system registered from the start of
    `first_month` to the end of `month`, bounded by the capacity in force over those hours.
    Without this, each silent month certified the other meters up to the whole system's
    bound and the resuming month compared only its own share of them."""
    tz = ZoneInfo(capacity.timezone)
    start, _ = month_bounds(first_month, tz)
    _, end = month_bounds(month, tz)
    most, bound = capacity.bound(start, end, thresholds.max_capacity_factor)
    total = certified_wh + earlier_wh
    if total <= most:
        return None
    return Finding(
        "over_capacity",
        f"the system's meters from {first_month} to {month} (a meter counted again from "
        f"{resumed_from.isoformat()}): {total} Wh ({earlier_wh} Wh certified by earlier "
        f"closes) is above {bound} × {thresholds.max_capacity_factor} = {most:.0f} Wh",
    )


_BACKWARDS = frozenset({QualityFlag.RESET, QualityFlag.NON_MONOTONIC})


def _implausible_power(
    parts: list[Interval], limit: PowerLimit
) -> list[tuple[int, datetime, datetime]]:
    """(energy, start, end) of each stretch where the stream's IMPLAUSIBLE_POWER flag is
    confirmed: from a flagged interval's start over at least ROLLOVER_MIN_SPAN (the
    intervals that follow it added, flagged or not), the energy is above the power limit.
    Register resolution on a fast poll (one step in a few seconds) is no finding; a run of
    short steps, each under the floor alone, is (a burst of 833 Wh every 3 s is 1,000 kW)."""
    out: list[tuple[int, datetime, datetime]] = []
    reported_until: datetime | None = None
    for k, first in enumerate(parts):
        if QualityFlag.IMPLAUSIBLE_POWER not in first.flags:
            continue
        if reported_until is not None and first.start < reported_until:
            continue  # inside a stretch already reported
        energy, j = 0, k
        while True:
            energy += parts[j].energy_wh
            if parts[j].end - first.start >= ROLLOVER_MIN_SPAN or j + 1 == len(parts):
                break
            j += 1
        if not limit.allows(energy, first.start, parts[j].end):
            if out and out[-1][2] == first.start:  # the stretch goes on: one finding
                energy, start = out[-1][0] + energy, out.pop()[1]
            else:
                start = first.start
            out.append((energy, start, parts[j].end))
            reported_until = parts[j].end
    return out


def _ts(point: RegisterPoint) -> datetime:
    return point.ts


def _longest_zero_run(days: dict[date, DayEnergy], first: date, last: date) -> int:
    longest = run = 0
    day = first
    while day <= last:
        bucket = days.get(day)
        zero = bucket is not None and bucket.energy_wh == 0  # no data is a gap, not a flat line
        run = run + 1 if zero else 0
        longest = max(longest, run)
        day += timedelta(days=1)
    return longest


def counted_energy(parts: list[Interval], counted_from: datetime, end: datetime) -> int:
    """Energy registered in [counted_from, end), intervals split there by interpolation (the
    same floor interpolation as the daily split, so the two always agree)."""
    total = 0
    for interval in parts:
        if interval.end <= counted_from or interval.start >= end:
            continue
        if counted_from <= interval.start and interval.end <= end:
            total += interval.energy_wh  # wholly inside: nothing to split
            continue
        for piece_start, energy in split_interval(interval, [counted_from, end]):
            if counted_from <= piece_start < end:
                total += energy
    return total


def _plain_register_delta(
    ordered: list[RegisterPoint], stamps: list[datetime], start: datetime, end: datetime
) -> int | None:
    """The register difference between two instants as a reader of the dials sees it: raw
    values interpolated, no reset or meter-swap correction, only a wrap at the modulus.
    `ordered`: the points in time order; `stamps`: their times."""
    low, high = _raw_register(ordered, stamps, start), _raw_register(ordered, stamps, end)
    if low is None or high is None:
        return None
    delta = high - low
    modulus = ordered[-1].modulus_wh
    return delta % modulus if delta < 0 and modulus else delta


def _segment_registers(
    points: list[RegisterPoint], parts: list[Interval], start: datetime, end: datetime
) -> list[tuple[datetime, datetime, int, int]]:
    """(from, to, interval sum, register difference) of each meter segment of a swap month
    within [start, end]: a new segment begins at each OPENING reading (the new meter), so
    the old meter is read up to its last reading (its closing read) and the new one from its
    opening read; the interval across the swap (counted 0) belongs to neither."""
    bounds = [0, *(k for k, p in enumerate(points) if k and p.event is ReadingEvent.OPENING)]
    out = []
    for first, after in zip(bounds, [*bounds[1:], len(points)], strict=True):
        segment = points[first:after]
        lo, hi = max(start, segment[0].ts), min(end, segment[-1].ts)
        if lo >= hi:
            continue
        stamps = [p.ts for p in segment]
        register = _plain_register_delta(segment, stamps, lo, hi)
        if register is None:
            continue
        inside = [i for i in parts if segment[0].ts <= i.start and i.end <= segment[-1].ts]
        out.append((lo, hi, counted_energy(inside, lo, hi), register))
    return out


def _raw_register(ordered: list[RegisterPoint], stamps: list[datetime], at: datetime) -> int | None:
    after = bisect_right(stamps, at)  # ordered[:after] are at or before `at`
    if after and stamps[after - 1] == at:
        return ordered[after - 1].energy_wh
    if not after or after == len(ordered):
        return None
    prev, nxt = ordered[after - 1], ordered[after]
    step = nxt.energy_wh - prev.energy_wh
    modulus = nxt.modulus_wh or prev.modulus_wh
    if step < 0 and modulus:  # the dial wrapped between the two: it turned forward
        step += modulus
    share = _micros(at - prev.ts) * step // _micros(nxt.ts - prev.ts)
    return (prev.energy_wh + share) % modulus if modulus else prev.energy_wh + share


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _night_energy(parts: list[Interval], tz: ZoneInfo) -> int:
    """Energy of the intervals of at most 4 h lying within 23:00–03:00 local. Only intervals
    with energy starting near a night (its window widened by an hour each side, in UTC) are
    converted to local time and checked (profiled: the conversions were a tenth of close)."""
    producing = [i for i in parts if i.energy_wh > 0]
    if not producing:
        return 0
    utc = producing[0].start.tzinfo
    first = producing[0].start.astimezone(tz).date() - timedelta(days=1)
    last = producing[-1].start.astimezone(tz).date() + timedelta(days=1)
    lows, highs = [], []
    day = first
    while day <= last:
        lows.append((local_midnight(day, tz) + timedelta(hours=22)).astimezone(utc))
        highs.append(
            (local_midnight(day + timedelta(days=1), tz) + timedelta(hours=4)).astimezone(utc)
        )
        day += timedelta(days=1)
    total = 0
    for i in producing:
        k = bisect_right(lows, i.start) - 1
        if k < 0 or i.start >= highs[k]:
            continue  # starts in daytime: not a night interval
        a, b = i.start.astimezone(tz), i.end.astimezone(tz)
        if b - a <= timedelta(hours=4) and _is_night(a) and _is_night(b - timedelta(seconds=1)):
            total += i.energy_wh
    return total


def _is_night(local: datetime) -> bool:
    return local.hour >= 23 or local.hour < 3
