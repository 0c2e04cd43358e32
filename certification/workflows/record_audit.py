"""Record a site audit: load the meter's reported readings up to the audit, compare with
certification.audits at the tolerance the system's tier requires, save (append-only).

A mismatching audit of a month already closed holds that system-month after the fact
(migration 017): the ledger takes back what it credited the month (entry `audit:<id>`, a
negative carry offsetting later certificates), and no export sends the month until an
amendment made from then on states it (the amendment books it again). An audit of a month
not closed yet is listed by its close as `audit_mismatch`, which holds it there."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import structlog

from certification import audits
from certification.errors import Refused
from certification.month_close import Thresholds
from certification.registry_rules import required_accuracy
from certification.roles import Account
from certification.window import in_zone
from certification.workflows._common import capacities_of, register_point
from certification.workflows.accept_month import credit_month
from schemas.registry import System
from storage import certification_store as store
from storage import registry_store
from storage.ledger_lock import lock_ledger
from storage.reading_points import points_until
from stream.energy import PowerLimit

log = structlog.get_logger(__name__)


def record_audit(
    conn: psycopg.Connection[Any],
    admin: Account,
    meter_id: str,
    ts: datetime,
    register_wh: int,
    evidence: str,
    now: datetime,
    thresholds: Thresholds | None = None,
) -> audits.AuditComparison:
    """Store an audit reading and how it compares with the reports (append-only). A naive
    `ts` is local time in the system's zone; the register as read is scaled by the meter's
    CT ratio (primary energy, as the reports are). Production is counted as month close
    counts it: the system's power limit (`thresholds.power_tolerance`) decides wraps."""
    audits.record(admin, meter_id, ts, register_wh, evidence)  # who may, and what it needs
    with conn.transaction():
        lock_ledger(conn)  # one ledger writer at a time (two admins at once)
        meter = registry_store.get_meter(conn, meter_id)
        if meter is None:
            raise Refused("unknown_meter", f"no meter {meter_id!r} is registered")
        system = registry_store.get_system(conn, meter.system_id)
        assert system is not None
        ts = in_zone(ts, system.timezone)
        register_wh = meter.primary_wh(register_wh)
        reading = audits.record(admin, meter_id, ts, register_wh, evidence)
        # the capacity in force when the audit reading was taken (migration 021)
        capacity = capacities_of(conn, [system])[system.system_id]
        tolerance = required_accuracy(capacity.at(ts), system.reporting_method)
        points = [register_point(row) for row in points_until(conn, meter_id, ts)]
        peak = capacity.peak_kw(points[0].ts, ts) if points and points[0].ts < ts else None
        limit = PowerLimit(
            capacity.at(ts) if peak is None else peak,
            (thresholds or Thresholds()).power_tolerance,
        )
        result = audits.compare(reading, points, tolerance, limit)
        audit_id = store.add_audit(
            conn,
            {
                "meter_id": meter_id,
                "ts": ts,
                "register_wh": register_wh,
                "audited_by": admin.account_id,
                "evidence": evidence,
                "reported_wh": result.reported_wh,
                "deviation_wh": result.deviation_wh,
                "deviation_pct": result.deviation_pct,
                "tolerance_pct": tolerance,
                "verdict": result.verdict.value,
                "recorded_at": now,
            },
        )
        if result.verdict is audits.Verdict.MISMATCH:
            _hold_closed_month(conn, system, ts, audit_id, now)
    log.info("audit_recorded", meter_id=meter_id, verdict=result.verdict.value)
    return result


def _hold_closed_month(
    conn: psycopg.Connection[Any], system: System, ts: datetime, audit_id: int, now: datetime
) -> None:
    """Hold the audited system-month if it is closed already, and take its credit back."""
    month = ts.astimezone(ZoneInfo(system.timezone)).strftime("%Y-%m")
    if store.month_close(conn, system.system_id, month) is None:
        return  # its close will list the audit as audit_mismatch
    store.add_hold_after_close(
        conn,
        system.system_id,
        month,
        "audit_mismatch",
        f"site audit {audit_id} at {ts.isoformat()} disagrees with the reports beyond the "
        "meter's accuracy; amend the month",
        audit_id,
        now,
    )
    if store.credited_mwh(conn, system.system_id, month) != 0:
        credit_month(conn, system, month, 0, f"audit:{audit_id}")
    log.warning("closed_month_held", system_id=system.system_id, month=month, audit_id=audit_id)
