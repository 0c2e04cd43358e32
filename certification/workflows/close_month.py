"""Close a month for every registered system: load each meter's readings, decide production,
findings and estimates with certification.month_close, mint with certification.srec, save the
close and the ledger entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import structlog

from certification import audits
from certification.errors import MonthLockedError, Refused
from certification.month_close import (
    Finding,
    MeterMonth,
    Thresholds,
    active_meters,
    meter_month,
)
from certification.roles import Account, require_admin
from certification.srec import mint, mwh_of
from certification.window import require_closable
from certification.workflows._common import register_point
from schemas.registry import ReportingMethod, System
from storage import certification_store as store
from storage import registry_store
from stream.calendar import month_bounds
from stream.energy import RegisterPoint

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class SystemMonth:
    system: System
    month: str
    energy_wh: int
    estimated: bool
    meters: list[MeterMonth]
    owner_contact: tuple[str, str] = ("", "")  # (name, email) of the System Owner
    minted: int = 0
    carry_out: Decimal = Decimal(0)

    @property
    def findings(self) -> list[tuple[str, str]]:
        return [(f.code, f"{m.meter_id}: {f.message}") for m in self.meters for f in m.findings]


@dataclass(slots=True)
class CloseReport:
    month: str
    systems: list[SystemMonth] = field(default_factory=list)

    def contact_list(self) -> list[tuple[str, str, list[str]]]:
        """(system_id, owner account, reasons) of every flagged system."""
        return [(c.system_id, c.owner_id, c.reasons) for c in self.contacts()]

    def contacts(self) -> list[Contact]:
        """Every flagged system with its owner's contact and the reasons."""
        return [
            Contact(
                s.system.system_id,
                s.system.owner_id,
                s.owner_contact[0],
                s.owner_contact[1],
                [code for code, _ in s.findings],
            )
            for s in self.systems
            if s.findings
        ]


@dataclass(frozen=True, slots=True)
class Contact:
    system_id: str
    owner_id: str
    owner_name: str
    owner_email: str
    reasons: list[str]


def _points(
    conn: psycopg.Connection[Any], meter_id: str, month: str, tz: str, since: datetime | None
) -> list[RegisterPoint]:
    start, end = month_bounds(month, ZoneInfo(tz))
    lo = min(start, since) if since is not None else start
    return [register_point(row) for row in store.month_points(conn, meter_id, lo, end)]


def _ends(conn: psycopg.Connection[Any], system_id: str, month: str) -> dict[str, datetime]:
    """meter_id → where the system's latest earlier close stopped counting that meter
    (months close in order: the latest earlier close must be the previous month)."""
    earlier = [row for row in store.closes_of(conn, system_id) if row.month < month]
    if not earlier:
        return {}
    previous = (date.fromisoformat(f"{month}-01") - timedelta(days=1)).strftime("%Y-%m")
    if earlier[-1].month != previous:
        raise Refused(
            "previous_month_open",
            f"{previous} of {system_id} is not closed; close months in order",
        )
    return {
        m["meter_id"]: datetime.fromisoformat(m["end_at"])
        for m in earlier[-1].meters
        if m.get("end_at")
    }


def _meter_json(m: MeterMonth) -> dict[str, Any]:
    def point(p: tuple[datetime, int] | None) -> list[Any] | None:
        return None if p is None else [p[0].isoformat(), p[1]]

    return {
        "meter_id": m.meter_id,
        "energy_wh": m.energy_wh,
        "readings": m.readings,
        "covered": m.covered,
        "estimated": m.estimated,
        "first": point(m.first),
        "last": point(m.last),
        "end_at": None if m.end_at is None else m.end_at.isoformat(),
    }


def close_month(
    conn: psycopg.Connection[Any],
    month: str,
    admin: Account,
    now: datetime,
    thresholds: Thresholds | None = None,
) -> CloseReport:
    """Close `month` for every registered system: production, findings, SRECs minted."""
    require_admin(admin, "close a month")
    thresholds = thresholds or Thresholds()
    report = CloseReport(month)
    _, month_end = month_bounds(month, ZoneInfo("UTC"))
    with conn.transaction():
        if store.closed_months(conn, month):
            raise MonthLockedError(
                "month_closed", f"{month} is already closed; change it with an amendment"
            )
        contacts = store.account_contacts(conn)
        for system in registry_store.list_systems(conn):
            require_closable(month, now, system.timezone)
            if system.install_date and system.install_date >= month_end.date():
                continue  # not installed yet in that month
            history = store.history(conn, system.system_id, month)
            ends = _ends(conn, system.system_id, month)
            manual = system.reporting_method is ReportingMethod.MANUAL
            meters = [
                meter_month(
                    m.meter_id,
                    _points(conn, m.meter_id, month, system.timezone, ends.get(m.meter_id)),
                    month,
                    system.timezone,
                    system.capacity_kw_dc,
                    thresholds,
                    history,
                    since=ends.get(m.meter_id),
                    manual=manual,
                )
                for m in active_meters(registry_store.list_meters(conn, system.system_id), month)
            ] or [
                meter_month(
                    "(no meter)",
                    [],
                    month,
                    system.timezone,
                    system.capacity_kw_dc,
                    thresholds,
                    history,
                )
            ]
            _add_audit_findings(conn, meters, month, system.timezone)
            energy = sum(m.energy_wh for m in meters)
            estimated = any(m.estimated for m in meters)
            result = SystemMonth(
                system, month, energy, estimated, meters, contacts.get(system.owner_id, ("", ""))
            )
            store.save_close(
                conn,
                system.system_id,
                month,
                energy,
                estimated,
                [{"code": c, "message": msg} for c, msg in result.findings],
                [_meter_json(m) for m in meters],
                admin.account_id,
                now,
            )
            if not estimated and system.rec_terms_accepted and system.gis_unit_id:
                # estimates mint nothing; neither do systems whose REC terms are not accepted
                carry = store.last_carry(conn, system.system_id)
                minted = mint(month, mwh_of(energy), system.srec_factor, carry)
                store.add_ledger(
                    conn,
                    system.system_id,
                    month,
                    "close",
                    minted.mwh,
                    system.srec_factor,
                    carry,
                    minted.minted,
                    minted.carry_out,
                )
                result.minted, result.carry_out = minted.minted, minted.carry_out
            report.systems.append(result)
    log.info(
        "month_closed", month=month, systems=len(report.systems), flagged=len(report.contact_list())
    )
    return report


def _add_audit_findings(
    conn: psycopg.Connection[Any], meters: list[MeterMonth], month: str, tz: str
) -> None:
    """List every mismatching site audit of the month among its meter's findings."""
    start, end = month_bounds(month, ZoneInfo(tz))
    for m in meters:
        stored = [
            audits.StoredAudit(
                r.ts, r.register_wh, r.reported_wh, r.deviation_pct, audits.Verdict(r.verdict)
            )
            for r in store.audits(conn, m.meter_id)
        ]
        m.findings += [
            Finding("audit_mismatch", text) for text in audits.mismatch_findings(stored, start, end)
        ]
