"""The certification workflows with their I/O: load the registry, take a manual report, close
a month, record an audit, amend, handle a REC Owner change, export a quarter, report.

Rules come from the pure modules; SQL from storage.certification_store. Each workflow runs in
one transaction: either everything it decided is stored, or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import structlog
from pydantic import ValidationError

from certification import amendments as amend_rules
from certification import audits
from certification import certification_report as cert_report
from certification import change_requests as cr
from certification.errors import MonthLockedError, Refused
from certification.gis_export import ExportLine, quarter_months, render, require_exportable
from certification.manual_reports import ManualReport, accept, closing_reading
from certification.month_close import (
    Finding,
    MeterMonth,
    Thresholds,
    active_meters,
    meter_month,
)
from certification.registry_rules import (
    check_meter,
    check_reporting_method,
    required_accuracy,
)
from certification.roles import Account, Role, can_read, require_admin, require_read
from certification.srec import mint, mwh_of
from certification.window import require_closable
from schemas.reading import QualityFlag, Reading, ReadingEvent, Source
from schemas.registry import AccuracyClass, DasProvider, Meter, ReportingMethod, System
from storage import certification_store as store
from storage import registry_store
from storage.writer import write_readings
from stream.calendar import month_bounds
from stream.energy import RegisterPoint

log = structlog.get_logger(__name__)


def _point(row: tuple[datetime, int, str | None, int | None, list[str]]) -> RegisterPoint:
    ts, wh, event, modulus, flags = row
    return RegisterPoint(
        ts, wh, ReadingEvent(event) if event else None, modulus, QualityFlag.RESET.value in flags
    )


def account(conn: psycopg.Connection[Any], account_id: str) -> Account:
    """The registered account, or a refusal (every action is taken as a known account)."""
    row = store.get_account(conn, account_id)
    if row is None:
        raise Refused("unknown_account", f"no account {account_id!r}; load it with the registry")
    return Account(row[0], Role(row[1]), row[2], row[3])


# -- registry -------------------------------------------------------------------------------


def load_registry(
    conn: psycopg.Connection[Any], data: dict[str, Any], manual_max_kw_dc: Decimal
) -> dict[str, int]:
    """Validate a registry document (providers, accounts, approved_meters, systems, meters)
    against the registry rules and store it; refuse the whole document if anything fails."""
    problems: list[str] = []

    def parse(kind: str, model: type[Any], raw: dict[str, Any]) -> Any:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            problems.append(f"{kind} {raw}: {exc.errors()[0]['msg']}")
            return None

    providers = [parse("provider", DasProvider, p) for p in data.get("providers", [])]
    systems = [parse("system", System, s) for s in data.get("systems", [])]
    meters = [parse("meter", Meter, m) for m in data.get("meters", [])]
    accounts = [
        (a["account_id"], Role(a["role"]).value, a.get("name", ""), a.get("email", ""))
        for a in data.get("accounts", [])
    ]
    approved = {
        str(m["model"]): AccuracyClass(str(m["accuracy_class"]))
        for m in data.get("approved_meters", [])
    }
    with conn.transaction():
        known_approved = {k: AccuracyClass(v) for k, v in store.approved_models(conn).items()}
        approved_all = {**known_approved, **approved}
        by_provider = {p.provider_id: p for p in registry_store.list_providers(conn)}
        by_provider.update({p.provider_id: p for p in providers if p is not None})
        by_system = {s.system_id: s for s in registry_store.list_systems(conn)}
        by_system.update({s.system_id: s for s in systems if s is not None})
        units: dict[str, str] = {}
        for known in by_system.values():
            if known.gis_unit_id and units.setdefault(known.gis_unit_id, known.system_id) != (
                known.system_id
            ):
                problems.append(
                    f"system {known.system_id}: NEPOOL GIS unit {known.gis_unit_id} is already "
                    f"{units[known.gis_unit_id]}'s"
                )
        for s in systems:
            if s is None:
                continue
            try:
                provider = by_provider.get(s.das_provider_id or "")
                check_reporting_method(s, manual_max_kw_dc, provider)
            except Refused as refusal:
                problems.append(f"system {s.system_id}: {refusal}")
        for m in meters:
            if m is None:
                continue
            owner = by_system.get(m.system_id)
            if owner is None:
                problems.append(f"meter {m.meter_id}: system {m.system_id} is not registered")
                continue
            try:
                check_meter(owner, m, approved_all)
            except Refused as refusal:
                problems.append(f"meter {m.meter_id}: {refusal}")
        if problems:
            raise Refused("registry_refused", "; ".join(problems))
        store.upsert_accounts(conn, accounts)
        store.upsert_approved_models(conn, [(k, v.value) for k, v in approved.items()])
        registry_store.upsert(conn, [*providers, *systems, *meters])
    counts = {
        "providers": len(providers),
        "accounts": len(accounts),
        "approved_meters": len(approved),
        "systems": len(systems),
        "meters": len(meters),
    }
    log.info("registry_loaded", **counts)
    return counts


# -- manual reports -------------------------------------------------------------------------


def submit_manual_report(
    conn: psycopg.Connection[Any],
    account_id: str,
    report: ManualReport,
    now: datetime,
    manual_max_kw_dc: Decimal,
) -> Reading:
    """Accept a manual monthly report and store it as a `manual` reading."""
    with conn.transaction():
        who = account(conn, account_id)
        meter = registry_store.get_meter(conn, report.meter_id)
        if meter is None:
            raise Refused("unknown_meter", f"no meter {report.meter_id!r} is registered")
        system = registry_store.get_system(conn, meter.system_id)
        assert system is not None  # meters reference systems
        provider = registry_store.get_provider(conn, system.das_provider_id or "")
        found = store.last_reading(conn, meter.meter_id)
        last = None
        if found is not None:
            last = Reading(
                meter_id=meter.meter_id,
                ts=found[0],
                energy_wh=found[1],
                source=Source.MANUAL,
                source_id="history",
                seq=0,
                received_at=found[0],
            )
        seq = int(now.timestamp() * 1000)
        reading = accept(who, system, meter, report, last, now, manual_max_kw_dc, provider, seq)
        closing = closing_reading(who, meter, report, now, seq)
        write_readings(conn, [reading] if closing is None else [closing, reading])
        month = reading.ts.astimezone(ZoneInfo(system.timezone)).strftime("%Y-%m")
        store.add_manual_report(
            conn,
            meter.meter_id,
            reading.ts,
            month,
            report.photo_ref,
            report.meter_replacement,
            who.account_id,
            now,
        )
    log.info("manual_report_accepted", meter_id=meter.meter_id, energy_wh=reading.energy_wh)
    return reading


# -- month close ----------------------------------------------------------------------------


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
    return [_point(row) for row in store.month_points(conn, meter_id, lo, end)]


def _ends(conn: psycopg.Connection[Any], system_id: str, month: str) -> dict[str, datetime]:
    """meter_id → where the system's latest earlier close stopped counting that meter
    (months close in order: the latest earlier close must be the previous month)."""
    earlier = [row for row in store.closes_of(conn, system_id) if row[0] < month]
    if not earlier:
        return {}
    previous = (date.fromisoformat(f"{month}-01") - timedelta(days=1)).strftime("%Y-%m")
    if earlier[-1][0] != previous:
        raise Refused(
            "previous_month_open",
            f"{previous} of {system_id} is not closed; close months in order",
        )
    return {
        m["meter_id"]: datetime.fromisoformat(m["end_at"])
        for m in earlier[-1][3]
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
            audits.StoredAudit(r[1], int(r[2]), r[3], r[5], audits.Verdict(r[6]))
            for r in store.audits(conn, m.meter_id)
        ]
        m.findings += [
            Finding("audit_mismatch", text) for text in audits.mismatch_findings(stored, start, end)
        ]


# -- audits and amendments ------------------------------------------------------------------


def record_audit(
    conn: psycopg.Connection[Any],
    admin: Account,
    meter_id: str,
    ts: datetime,
    register_wh: int,
    evidence: str,
    now: datetime,
) -> audits.AuditComparison:
    """Store an audit reading and how it compares with the reports (append-only)."""
    reading = audits.record(admin, meter_id, ts, register_wh, evidence)
    with conn.transaction():
        meter = registry_store.get_meter(conn, meter_id)
        if meter is None:
            raise Refused("unknown_meter", f"no meter {meter_id!r} is registered")
        system = registry_store.get_system(conn, meter.system_id)
        assert system is not None
        tolerance = required_accuracy(system.capacity_kw_dc, system.reporting_method)
        points = [_point(row) for row in store.points_until(conn, meter_id, ts)]
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


def _amendments(conn: psycopg.Connection[Any], system_id: str) -> list[amend_rules.Amendment]:
    return [
        amend_rules.Amendment(
            int(r[0]), r[1], r[2], int(r[3]), int(r[4]), r[5], r[6], r[7], r[8], r[9]
        )
        for r in store.amendments(conn, system_id)
    ]


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
    with conn.transaction():
        closed = store.month_close(conn, system_id, month)
        earlier = [a for a in _amendments(conn, system_id) if a.month == month]
        proposed = amend_rules.propose(
            admin,
            system_id,
            month,
            None if closed is None else int(closed[0]),
            earlier,
            after_wh,
            reason,
            evidence,
            now,
        )
        amendment_id = store.add_amendment(
            conn,
            system_id,
            month,
            proposed.before_wh,
            after_wh,
            reason,
            evidence,
            admin.account_id,
            now,
        )
        system = registry_store.get_system(conn, system_id)
        assert system is not None
        carry = store.last_carry(conn, system_id)
        adjusted = mint(month, proposed.delta_mwh, system.srec_factor, carry)
        store.add_ledger(
            conn,
            system_id,
            month,
            f"amendment:{amendment_id}",
            proposed.delta_mwh,
            system.srec_factor,
            carry,
            adjusted.minted,
            adjusted.carry_out,
        )
    log.info(
        "month_amended",
        system_id=system_id,
        month=month,
        before_wh=proposed.before_wh,
        after_wh=after_wh,
    )
    return amendment_id


# -- REC Owner changes ----------------------------------------------------------------------


def _request(row: dict[str, Any]) -> cr.RecOwnerChange:
    return cr.RecOwnerChange(
        row["request_id"],
        row["system_id"],
        row["requested_by"],
        row["new_rec_owner_id"],
        row["transfer_contract"],
        row["created_at"],
        cr.Status(row["status"]),
        row["decided_by"],
        row["decided_at"],
    )


def request_rec_owner_change(
    conn: psycopg.Connection[Any],
    account_id: str,
    system_id: str,
    request_id: str,
    new_rec_owner_id: str,
    transfer_contract: str | None,
    now: datetime,
) -> cr.RecOwnerChange:
    with conn.transaction():
        who = account(conn, account_id)
        system = registry_store.get_system(conn, system_id)
        if system is None:
            raise Refused("unknown_system", f"no system {system_id!r} is registered")
        existing = [_request(r) for r in store.change_requests(conn, system_id)]
        request = cr.open_request(
            who, system, request_id, new_rec_owner_id, transfer_contract, existing, now
        )
        store.save_change_request(conn, _request_row(request))
    return request


def _request_row(request: cr.RecOwnerChange) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "system_id": request.system_id,
        "requested_by": request.requested_by,
        "new_rec_owner_id": request.new_rec_owner_id,
        "transfer_contract": request.transfer_contract,
        "created_at": request.created_at,
        "status": request.status.value,
        "decided_by": request.decided_by,
        "decided_at": request.decided_at,
    }


def decide_change_request(
    conn: psycopg.Connection[Any],
    account_id: str,
    system_id: str,
    request_id: str,
    status: cr.Status,
    now: datetime,
) -> System:
    """Approve (admin; applies the new REC Owner), cancel (admin) or withdraw (requester)."""
    with conn.transaction():
        who = account(conn, account_id)
        system = registry_store.get_system(conn, system_id)
        found = [r for r in store.change_requests(conn, system_id) if r["request_id"] == request_id]
        if system is None or not found:
            raise Refused("unknown_request", f"no request {request_id!r} for {system_id!r}")
        decided = cr.decide(who, _request(found[0]), status, now)
        store.save_change_request(conn, _request_row(decided))
        if decided.status is cr.Status.APPROVED:
            system = cr.apply(system, decided)
            registry_store.upsert(conn, [system])
    return system


# -- SRECs: export and report ---------------------------------------------------------------


def draft_export(conn: psycopg.Connection[Any], quarter: str, admin: Account) -> str:
    """The quarter's lines so far (closed, actual months with REC terms accepted, restated by
    amendments), for review: not the upload, nothing is recorded or marked exported."""
    require_admin(admin, "draft a NEPOOL GIS export")
    months = quarter_months(quarter)
    systems = {s.system_id: s for s in registry_store.list_systems(conn)}
    lines = []
    for system_id, month, energy_wh, estimated in store.closes_for(conn, months):
        system = systems[system_id]
        if estimated or not system.rec_terms_accepted or not system.gis_unit_id:
            continue
        stated = amend_rules.stated_wh(
            int(energy_wh), [a for a in _amendments(conn, system_id) if a.month == month]
        )
        lines.append(ExportLine(system.gis_unit_id, month, mwh_of(stated)))
    return render(lines)


def export_quarter(
    conn: psycopg.Connection[Any],
    quarter: str,
    admin: Account,
    now: datetime,
    timezone: str = "America/New_York",
) -> str:
    """The NEPOOL GIS upload for `quarter`: its closed, actual months (restated by any
    amendment), plus adjustment lines for amendments of earlier, already exported months."""
    require_admin(admin, "export to NEPOOL GIS")
    require_exportable(quarter, now, timezone)
    months = quarter_months(quarter)
    with conn.transaction():
        if quarter in store.exported_quarters(conn):
            raise Refused("already_exported", f"{quarter} was exported; amend to adjust it")
        systems = {s.system_id: s for s in registry_store.list_systems(conn)}
        closes = store.closes_for(conn, months)
        closed = {(str(r[0]), str(r[1])) for r in closes}
        for month in months:
            if not any(m == month for _, m in closed):
                raise Refused("month_not_closed", f"{month} is not closed; close it first")
        lines: list[ExportLine] = []
        for system_id, month, energy_wh, estimated in closes:
            system = systems[system_id]
            if estimated or not system.rec_terms_accepted or not system.gis_unit_id:
                continue
            stated = amend_rules.stated_wh(
                int(energy_wh), [a for a in _amendments(conn, system_id) if a.month == month]
            )
            lines.append(ExportLine(system.gis_unit_id, month, mwh_of(stated)))
        carried = []
        for amendment_id, system_id, month, before_wh, after_wh in store.unexported_amendments(
            conn, months
        ):
            system = systems[system_id]
            carried.append(int(amendment_id))
            if month in months:
                continue  # already in the month's restated line above
            if system.rec_terms_accepted and system.gis_unit_id:
                delta = mwh_of(int(after_wh)) - mwh_of(int(before_wh))
                lines.append(ExportLine(system.gis_unit_id, month, delta))
        store.mark_exported(conn, carried, quarter)
        content = render(lines)
        store.save_export(conn, quarter, content, admin.account_id, now)
    log.info("quarter_exported", quarter=quarter, lines=len(lines))
    return content


def _trace(raw: dict[str, Any]) -> cert_report.MeterTrace:
    def point(p: list[Any] | None) -> tuple[datetime, int] | None:
        return None if p is None else (datetime.fromisoformat(p[0]), int(p[1]))

    return cert_report.MeterTrace(
        raw["meter_id"],
        int(raw["energy_wh"]),
        int(raw["readings"]),
        bool(raw["estimated"]),
        point(raw.get("first")),
        point(raw.get("last")),
    )


def certification_report(
    conn: psycopg.Connection[Any], system_id: str | None = None, viewer: Account | None = None
) -> str:
    """Every system's certificates traced to its readings, with its amendments; a `viewer`
    sees only the systems it holds a role on (admins see all)."""
    out = []
    for system in registry_store.list_systems(conn):
        if system_id is not None and system.system_id != system_id:
            continue
        if viewer is not None:
            if system_id is not None:
                require_read(viewer, system)
            elif not can_read(viewer, system):
                continue
        closes = [
            cert_report.ClosedMonth(
                system.system_id, r[0], int(r[1]), bool(r[2]), tuple(_trace(m) for m in r[3])
            )
            for r in store.closes_of(conn, system.system_id)
        ]
        entries = [
            cert_report.LedgerEntry(
                r[0],
                r[1],
                r[2],
                Decimal(r[3]),
                Decimal(r[4]),
                Decimal(r[5]),
                int(r[6]),
                Decimal(r[7]),
            )
            for r in store.ledger_of(conn, system.system_id)
        ]
        unit = system.gis_unit_id or system.system_id
        out.append(
            cert_report.render(
                system.system_id, unit, closes, _amendments(conn, system.system_id), entries
            )
        )
    return "".join(out)
