"""Record a site audit: load the meter's reported readings up to the audit, compare with
certification.audits at the tolerance the system's tier requires, save (append-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
import structlog

from certification import audits
from certification.errors import Refused
from certification.registry_rules import required_accuracy
from certification.roles import Account
from certification.window import in_zone
from certification.workflows._common import register_point
from storage import certification_store as store
from storage import registry_store

log = structlog.get_logger(__name__)


def record_audit(
    conn: psycopg.Connection[Any],
    admin: Account,
    meter_id: str,
    ts: datetime,
    register_wh: int,
    evidence: str,
    now: datetime,
) -> audits.AuditComparison:
    """Store an audit reading and how it compares with the reports (append-only). A naive
    `ts` is local time in the system's zone; the register as read is scaled by the meter's
    CT ratio (primary energy, as the reports are)."""
    audits.record(admin, meter_id, ts, register_wh, evidence)  # who may, and what it needs
    with conn.transaction():
        meter = registry_store.get_meter(conn, meter_id)
        if meter is None:
            raise Refused("unknown_meter", f"no meter {meter_id!r} is registered")
        system = registry_store.get_system(conn, meter.system_id)
        assert system is not None
        ts = in_zone(ts, system.timezone)
        register_wh = meter.primary_wh(register_wh)
        reading = audits.record(admin, meter_id, ts, register_wh, evidence)
        tolerance = required_accuracy(system.capacity_kw_dc, system.reporting_method)
        points = [register_point(row) for row in store.points_until(conn, meter_id, ts)]
        result = audits.compare(reading, points, tolerance)
        store.add_audit(
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
    log.info("audit_recorded", meter_id=meter_id, verdict=result.verdict.value)
    return result
