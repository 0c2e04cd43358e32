"""Late readings into closed months: when a system's month closes, and before a NEPOOL GIS
export, every closed month of the system is checked against today's readings
(certification.late_readings). A month whose count changed is held after its close
(migration 017): its ledger credit is taken back (entry `late:<closing month>` or
`late:<quarter>`), no export sends it, and the close lists `late_readings` for the owner's
contact; an amendment states the month (the same energy confirms it) and books it. The check
is recorded (`late_reading_checks`, migration 018) as the month's new baseline.

Cost: one count query per batch of systems (every metered meter-span of every closed month);
a span is re-read and recounted only when its count differs from the baseline (or the close
stored no count: closes made before 018 whose span was not the whole month).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
import structlog

from certification.late_readings import MeterSpan, closed_spans, late_finding, recount_wh
from certification.month_close import Finding, Thresholds
from certification.workflows._common import capacities_of, register_point
from certification.workflows.accept_month import credit_month
from schemas.registry import System
from storage import certification_store as store
from storage import reading_counts
from storage.reading_points import month_points

log = structlog.get_logger(__name__)


def check_closed_months(
    conn: psycopg.Connection[Any],
    systems: Sequence[tuple[System, Sequence[store.ClosedMonthRow]]],
    checked_by: str,
    thresholds: Thresholds,
    now: datetime,
) -> dict[str, list[Finding]]:
    """system_id → the late_readings findings of its closed months whose readings count
    differently today; each such month is held after its close and its credit taken back.
    `checked_by`: `late:<closing month>` or `late:<quarter>` (the ledger entry's name)."""
    baselines = store.late_baselines(conn, [s.system_id for s, _ in systems])
    capacities = capacities_of(conn, [s for s, _ in systems])
    spans: list[tuple[System, MeterSpan, bool]] = []
    for system, closes in systems:
        known = {(k[1], k[2]): v for k, v in baselines.items() if k[0] == system.system_id}
        for span in closed_spans([(c.month, c.meters) for c in closes], system.timezone, known):
            spans.append((system, span, (span.month, span.meter_id) in known))
    counts = reading_counts.count_in_spans(
        conn, [(s.meter_id, s.first, s.last) for _, s, _ in spans]
    )
    # (system_id, month) → [(span, readings now, energy now)] of the spans that changed count
    recounted: dict[tuple[str, str], list[tuple[MeterSpan, int, int]]] = {}
    checked: dict[tuple[str, str], bool] = {}  # the month's baseline is an earlier check's
    energy: dict[tuple[str, str], int] = {}  # the month's energy as known (close or check)
    for (system, span, from_check), count in zip(spans, counts, strict=True):
        key = (system.system_id, span.month)
        checked[key] = checked.get(key, False) or from_check
        energy[key] = energy.get(key, 0) + span.energy_wh
        if span.readings is not None and span.readings == count:
            continue
        rows = month_points(conn, [span.meter_id], span.lo, span.hi)[span.meter_id]
        points = [register_point(r) for r in rows]
        # the close's power limit; a close made before it stored one: the capacity in force
        kw = capacities[system.system_id].peak_kw(span.lo, span.hi)
        now_wh = recount_wh(points, span.lo, span.hi, kw, thresholds, span.limit)
        recounted.setdefault(key, []).append((span, count, now_wh))
    by_id = {s.system_id: s for s, _ in systems}
    found: dict[str, list[Finding]] = {}
    for (system_id, month), changed in sorted(recounted.items()):
        system = by_id[system_id]
        held = any(wh != span.energy_wh for span, _, wh in changed)
        store.add_late_checks(
            conn,
            [
                store.LateCheck(system_id, month, span.meter_id, count, wh, held, checked_by, now)
                for span, count, wh in changed
            ],
        )
        if not held:
            continue  # only the count changed (a gap filled as it was interpolated)
        was = energy[(system_id, month)]
        finding = late_finding(
            month,
            was,
            was + sum(wh - span.energy_wh for span, _, wh in changed),
            checked[(system_id, month)],
        )
        found.setdefault(system_id, []).append(finding)
        store.add_hold_after_close(conn, system_id, month, finding.code, finding.message, None, now)
        if store.credited_mwh(conn, system_id, month) != 0:
            credit_month(conn, system, month, 0, checked_by)
        log.warning("closed_month_held", system_id=system_id, month=month, reason="late")
    return found
