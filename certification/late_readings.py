"""Late readings, pure: readings that arrived after a month closed, inside the span that close
counted, change what the month would count today. The next close of the system recounts the
previous month's span (from today's readings, with the same energy function and power limit)
and holds that month after its close when the recount differs (certification.workflows
.late_readings). Readings after a meter's `end_at` (a silent meter, a gap at the month's end)
are no change: the next close resumes there and counts them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from certification.month_close import Finding, Thresholds, counted_energy
from stream.energy import PowerLimit, RegisterPoint, intervals


@dataclass(frozen=True, slots=True)
class CountedSpan:
    """What a close counted for one meter: [start, end] and the energy, with the readings
    that bounded it (so an unchanged span is recognised by its reading count alone)."""

    meter_id: str
    start: datetime
    end: datetime
    energy_wh: int
    readings: int  # readings the close had in [start, end], bounding ones included


def expected_readings(
    inside: int, first: datetime | None, last: datetime | None, start: datetime, end: datetime
) -> int:
    """Readings a close of [start, end) had in [first, last]: those inside the month plus
    the bracketing reading before its start and the one at or after its end."""
    before = 1 if first is not None and first < start else 0
    after = 1 if last is not None and last >= end else 0
    return inside + before + after


def recount_wh(
    points: list[RegisterPoint],
    start: datetime,
    end: datetime,
    capacity_kw_dc: Decimal,
    thresholds: Thresholds,
) -> int:
    """The energy today's readings count in [start, end) (month close's own function)."""
    parts = intervals(points, PowerLimit(capacity_kw_dc, thresholds.power_tolerance))
    return counted_energy(parts, start, end)


def late_finding(month: str, closed_wh: int, recounted_wh: int) -> Finding:
    return Finding(
        "late_readings",
        f"{month} closed at {closed_wh} Wh; its readings now count {recounted_wh} Wh (readings "
        "arrived after its close): held until amended",
    )
