"""The certification workflows with their I/O: close a month, amend, export a quarter.

Rules come from the pure modules; SQL from storage.certification_store. Each workflow runs in
one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from certification.errors import MonthLockedError, Refused
from certification.gis_export import ExportLine, quarter_months, render
from certification.month_close import MeterMonth, Thresholds, meter_month
from certification.roles import Account, require_admin
from certification.srec import mint, mwh_of
from schemas.reading import QualityFlag, ReadingEvent
from schemas.registry import System
from storage import certification_store as store
from storage import registry_store
from stream.calendar import month_bounds
from stream.energy import RegisterPoint


@dataclass(slots=True)
class SystemMonth:
    system: System
    month: str
    energy_wh: int
    estimated: bool
    meters: list[MeterMonth]
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
        return [
            (s.system.system_id, s.system.owner_id, [code for code, _ in s.findings])
            for s in self.systems
            if s.findings
        ]


def _points(
    conn: psycopg.Connection[Any], meter_id: str, month: str, tz: str
) -> list[RegisterPoint]:
    start, end = month_bounds(month, ZoneInfo(tz))
    return [
        RegisterPoint(
            ts,
            wh,
            ReadingEvent(event) if event else None,
            modulus,
            QualityFlag.RESET.value in flags,
        )
        for ts, wh, event, modulus, flags in store.month_points(conn, meter_id, start, end)
    ]


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
    with conn.transaction():
        done = store.closed_months(conn, month)
        if done:
            raise MonthLockedError(
                "month_closed", f"{month} is already closed; change it with an amendment"
            )
        for system in registry_store.list_systems(conn):
            meters = [
                meter_month(m.meter_id, _points(conn, m.meter_id, month, system.timezone), month,
                            system.timezone, system.capacity_kw_dc, thresholds)
                for m in registry_store.list_meters(conn, system.system_id)
            ]  # fmt: skip
            energy = sum(m.energy_wh for m in meters)
            estimated = any(m.estimated for m in meters)
            result = SystemMonth(system, month, energy, estimated, meters)
            store.save_close(
                conn, system.system_id, month, energy, estimated,
                [{"code": c, "message": msg} for c, msg in result.findings],
                [{"meter_id": m.meter_id, "energy_wh": m.energy_wh, "readings": m.readings,
                  "covered": m.covered, "estimated": m.estimated} for m in meters],
                admin.account_id, now,
            )  # fmt: skip
            if not estimated:  # estimated months mint no certificates
                carry = store.last_carry(conn, system.system_id)
                minted = mint(month, mwh_of(energy), system.srec_factor, carry)
                store.add_ledger(
                    conn, system.system_id, month, "close", minted.mwh,
                    system.srec_factor, carry, minted.minted, minted.carry_out,
                )  # fmt: skip
                result.minted, result.carry_out = minted.minted, minted.carry_out
            report.systems.append(result)
    return report


def amend(
    conn: psycopg.Connection[Any],
    admin: Account,
    system_id: str,
    month: str,
    after_wh: int,
    reason: str,
    evidence: str,
    now: datetime,
) -> int:
    """Restate a closed month's energy; append-only, with a ledger adjustment."""
    require_admin(admin, "amend production")
    if not reason or not evidence:
        raise Refused("amendment_incomplete", "an amendment needs a reason and evidence")
    with conn.transaction():
        closed = store.month_close(conn, system_id, month)
        if closed is None:
            raise Refused("month_not_closed", f"{month} of {system_id} is not closed yet")
        before = store.amended_energy(conn, system_id, month)
        before_wh = int(closed[0]) if before is None else before
        amendment_id = store.add_amendment(
            conn, system_id, month, before_wh, after_wh, reason, evidence, admin.account_id, now
        )
        system = registry_store.get_system(conn, system_id)
        assert system is not None
        delta = mwh_of(after_wh) - mwh_of(before_wh)
        carry = store.last_carry(conn, system_id)
        adjusted = mint(month, delta, system.srec_factor, carry)
        store.add_ledger(
            conn, system_id, month, f"amendment:{amendment_id}", delta,
            system.srec_factor, carry, adjusted.minted, adjusted.carry_out,
        )
    return amendment_id


def export_quarter(
    conn: psycopg.Connection[Any], quarter: str, admin: Account, now: datetime
) -> str:
    """The NEPOOL GIS upload for `quarter`: its closed, actual months (restated by any
    amendment), plus adjustment lines for amendments of earlier, already exported months."""
    require_admin(admin, "export to NEPOOL GIS")
    months = quarter_months(quarter)
    with conn.transaction():
        systems = {s.system_id: s for s in registry_store.list_systems(conn)}
        lines: list[ExportLine] = []
        for system_id, month, energy_wh, estimated in store.closes_for(conn, months):
            system = systems[system_id]
            if estimated or not system.rec_terms_accepted or not system.gis_unit_id:
                continue
            restated = store.amended_energy(conn, system_id, month)
            energy = int(energy_wh) if restated is None else restated
            lines.append(ExportLine(system.gis_unit_id, month, mwh_of(energy)))
        carried = []
        for amendment_id, system_id, month, before_wh, after_wh in store.unexported_amendments(
            conn, months
        ):
            system = systems[system_id]
            carried.append(int(amendment_id))
            if system.rec_terms_accepted and system.gis_unit_id:
                delta = mwh_of(int(after_wh)) - mwh_of(int(before_wh))
                lines.append(ExportLine(system.gis_unit_id, month, delta))
        store.mark_exported(conn, carried, quarter)
        content = render(lines)
        store.save_export(conn, quarter, content, admin.account_id, now)
    return content
