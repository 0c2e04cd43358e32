"""Late readings into a closed month: when a system's month closes, the previous month's
counted span is checked against today's readings (certification.late_readings). A month whose
count changed is held after its close (migration 017): its ledger credit is taken back
(entry `late:<closing month>`), no export sends it, and the close lists `late_readings` for
the owner's contact; an amendment states the month (the same energy confirms it) and books it.

Cost: one count query per batch and bound; a meter's span is re-read and recounted only when
its reading count changed (or its span was not the whole month: a resumed or unfinished one).
Only the previous month is checked; a late reading into an older month is not noticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import structlog

from certification.late_readings import expected_readings, late_finding, recount_wh
from certification.month_close import Finding, Thresholds
from certification.workflows._common import register_point
from certification.workflows.accept_month import credit_month
from schemas.registry import System
from storage import certification_store as store
from storage.reading_points import month_points
from stream.calendar import month_bounds

log = structlog.get_logger(__name__)


def previous_month(month: str) -> str:
    return (date.fromisoformat(f"{month}-01") - timedelta(days=1)).strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class _Span:
    meter_id: str
    lo: datetime  # where the close started counting the meter
    hi: datetime  # where it stopped (end_at)
    energy_wh: int
    first: datetime  # the readings bounding what it counted
    last: datetime
    expected: int | None  # readings it had in [first, last]; None: recount anyway


def _spans(
    system: System, earlier: list[store.ClosedMonthRow], month: str
) -> tuple[str, list[_Span]] | None:
    """The previous month and what its close counted per metered meter, if it is closed."""
    prev = previous_month(month)
    if not earlier or earlier[-1].month != prev:
        return None
    start, end = month_bounds(prev, ZoneInfo(system.timezone))
    before = {}
    if len(earlier) > 1 and earlier[-2].month == previous_month(prev):
        before = {
            m["meter_id"]: datetime.fromisoformat(m["end_at"])
            for m in earlier[-2].meters
            if m.get("end_at")
        }
    out = []
    for m in earlier[-1].meters:
        if m.get("estimated") or not m.get("end_at") or not m.get("first") or not m.get("last"):
            continue  # a silent meter: the next close resumes and counts its energy once
        since = before.get(m["meter_id"])
        lo = since if since is not None and since < start else start
        hi = datetime.fromisoformat(m["end_at"])
        first = datetime.fromisoformat(m["first"][0])
        last = datetime.fromisoformat(m["last"][0])
        whole = lo == start and hi == end
        expected = expected_readings(int(m["readings"]), first, last, start, end) if whole else None
        out.append(_Span(m["meter_id"], lo, hi, int(m["energy_wh"]), first, last, expected))
    return prev, out


def check_previous_months(
    conn: psycopg.Connection[Any],
    systems: list[tuple[System, list[store.ClosedMonthRow]]],
    month: str,
    thresholds: Thresholds,
    now: datetime,
) -> dict[str, Finding]:
    """system_id → the late_readings finding of each system whose previous closed month
    counts differently today; that month is held after its close and its credit taken back."""
    found: dict[str, Finding] = {}
    for system, earlier in systems:
        spans = _spans(system, earlier, month)
        if spans is None:
            continue
        prev, meters = spans
        closed_wh = recounted_wh = 0
        changed = False
        for span in meters:
            closed_wh += span.energy_wh
            if span.expected is not None and span.expected == store.count_readings(
                conn, span.meter_id, span.first, span.last
            ):
                recounted_wh += span.energy_wh
                continue
            rows = month_points(conn, [span.meter_id], span.lo, span.hi)[span.meter_id]
            points = [register_point(r) for r in rows]
            now_wh = recount_wh(points, span.lo, span.hi, system.capacity_kw_dc, thresholds)
            recounted_wh += now_wh
            changed |= now_wh != span.energy_wh
        if not changed:
            continue
        finding = late_finding(prev, closed_wh, recounted_wh)
        found[system.system_id] = finding
        store.add_hold_after_close(
            conn, system.system_id, prev, finding.code, finding.message, None, now
        )
        if store.credited_mwh(conn, system.system_id, prev) != 0:
            credit_month(conn, system, prev, 0, f"late:{month}")
        log.warning("closed_month_held", system_id=system.system_id, month=prev, reason="late")
    return found
