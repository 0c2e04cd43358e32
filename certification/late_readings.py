"""Late readings, pure: readings that arrived after a month closed, inside the span that close
counted, change what the month would count today. Every close of a system, and every NEPOOL
GIS export, checks every closed month of the system against today's readings (a count per
meter and month; a recount with the close's own energy function and power limit only when
the count changed) and holds after its close each month whose count of energy differs
(certification.workflows.late_readings): the previous month, two months back or a year back
alike. Readings after a meter's `end_at` (a silent meter, a gap at the month's end) are no
change to that month: the next close resumes there and counts them once (or, when that next
month is closed already, they are inside its span and change it).

What a check found is its baseline (`late_reading_checks`): the same late readings hold a
month once; an amendment then states it, and only readings arriving after the check hold it
again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from certification.month_close import Finding, Thresholds, counted_energy
from stream.calendar import month_bounds
from stream.energy import PowerLimit, RegisterPoint, intervals


@dataclass(frozen=True, slots=True)
class MeterSpan:
    """What a close counted for one meter: [lo, hi) and its energy, with the readings that
    bounded it (first, last) and how many readings it had in [first, last] (None: unknown,
    a close made before it stored the count, so the span is recounted)."""

    month: str
    meter_id: str
    lo: datetime
    hi: datetime
    energy_wh: int
    first: datetime
    last: datetime
    readings: int | None
    limit: PowerLimit | None  # the close's power limit (None: a close made before it stored it)


def previous_month(month: str) -> str:
    return (date.fromisoformat(f"{month}-01") - timedelta(days=1)).strftime("%Y-%m")


def expected_readings(
    inside: int, first: datetime | None, last: datetime | None, start: datetime, end: datetime
) -> int:
    """Readings a close of [start, end) had in [first, last]: those inside the month plus
    the bracketing reading before its start and the one at or after its end."""
    before = 1 if first is not None and first < start else 0
    after = 1 if last is not None and last >= end else 0
    return inside + before + after


def closed_spans(
    closes: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
    timezone: str,
    baselines: Mapping[tuple[str, str], tuple[int, int]],
) -> list[MeterSpan]:
    """Every metered meter-span of a system's closes ((month, meters as stored), in month
    order). `baselines`: (month, meter_id) → (readings, energy_wh) the latest check found,
    which replaces what the close had."""
    tz = ZoneInfo(timezone)
    out = []
    ends: dict[str, datetime] = {}  # meter_id → where the previous month's close stopped
    previous = None
    for month, meters in closes:
        start, end = month_bounds(month, tz)
        before = ends if previous == previous_month(month) else {}
        ends = {}
        for m in meters:
            if m.get("end_at"):
                ends[m["meter_id"]] = datetime.fromisoformat(m["end_at"])
            if m.get("estimated") or not m.get("end_at") or not m.get("first") or not m.get("last"):
                continue  # a silent meter: the next close resumes and counts its energy once
            since = before.get(m["meter_id"])
            lo = since if since is not None and since < start else start
            hi = datetime.fromisoformat(m["end_at"])
            first = datetime.fromisoformat(m["first"][0])
            last = datetime.fromisoformat(m["last"][0])
            readings: int | None = m.get("span_readings")
            if readings is None and lo == start and hi == end:
                readings = expected_readings(int(m["readings"]), first, last, start, end)
            energy = int(m["energy_wh"])
            if (month, m["meter_id"]) in baselines:
                readings, energy = baselines[(month, m["meter_id"])]
            limit = m.get("power_limit")
            out.append(
                MeterSpan(
                    month,
                    m["meter_id"],
                    lo,
                    hi,
                    energy,
                    first,
                    last,
                    readings,
                    None if not limit else PowerLimit(Decimal(limit[0]), Decimal(limit[1])),
                )
            )
        previous = month
    return out


def recount_wh(
    points: list[RegisterPoint],
    start: datetime,
    end: datetime,
    capacity_kw_dc: Decimal,
    thresholds: Thresholds,
    limit: PowerLimit | None = None,
) -> int:
    """The energy today's readings count in [start, end) (month close's own function, with
    the close's power limit when it stored one, else the system's today)."""
    limit = limit or PowerLimit(capacity_kw_dc, thresholds.power_tolerance)
    return counted_energy(intervals(points, limit), start, end)


def late_finding(month: str, closed_wh: int, recounted_wh: int, checked: bool = False) -> Finding:
    """`checked`: `closed_wh` is what an earlier check found, not what the close counted."""
    was = f"counted {closed_wh} Wh at its last check" if checked else f"closed at {closed_wh} Wh"
    return Finding(
        "late_readings",
        f"{month} {was}; its readings now count {recounted_wh} Wh (readings arrived after its "
        "close): held until amended",
    )
