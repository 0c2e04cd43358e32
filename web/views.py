"""Read workflows of the pages and the API: load what a person may see, ask the rules
whether they may see it (certification.roles), shape it for rendering. No rule of their own
beyond choosing what to show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from certification import withdrawals as withdrawal_rules
from certification.amendments import stated_wh
from certification.errors import Refused
from certification.manual_reports import filed_month
from certification.month_close import active_meters
from certification.roles import (
    Account,
    Role,
    can_read,
    require_admin,
    require_read,
    require_submit,
    roles_on,
)
from certification.window import month_reported_at, window_for
from certification.workflows._common import amendments_of
from schemas.registry import Meter, ReportingMethod, System
from storage import certification_store as cstore
from storage import registry_store
from storage import withdrawals as wstore
from web import credential_store, read_store
from web.errors import not_found

MANUAL_REPORT = "manual_report"  # write_log action of a manual report
WITHDRAWAL = "reading_withdrawal"  # write_log action of a withdrawn or corrected reading


@dataclass(frozen=True, slots=True)
class WindowState:
    """The reporting window as a person sees it, in the system's local time."""

    timezone: str
    month: str | None  # the month being reported now; None when no window is open
    opens: datetime  # local: the open window's, else the next one's
    closes: datetime

    @property
    def is_open(self) -> bool:
        return self.month is not None

    @property
    def last_day(self) -> datetime:
        """The last local day of the window (it closes at the end of that day)."""
        return self.closes - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class MonthProduction:
    month: str
    energy_wh: int | None
    basis: str  # closed, amended, estimated, measured, or "" when nothing is known yet


@dataclass(slots=True)
class SystemPage:
    system: System
    roles: frozenset[Role]
    meters: list[Meter]
    monthly: list[MonthProduction]
    recent: list[read_store.ReadingRow]
    flagged: list[read_store.ReadingRow]
    findings: list[tuple[str, str, str]]  # (month, code, message) of closed months
    ledger: list[cstore.LedgerRow]
    change_requests: list[cstore.ChangeRequestRow]
    window: WindowState | None

    @property
    def certificates(self) -> int:
        return sum(e.minted for e in self.ledger)

    @property
    def plain_findings(self) -> list[tuple[str, str]]:
        """(month, code) of each finding, each once per month (owners read one sentence per
        code, web.finding_wording; staff read every finding's message)."""
        return list(dict.fromkeys((month, code) for month, code, _ in self.findings))


@dataclass(frozen=True, slots=True)
class Earlier:
    """A meter's last reading (before the one being sent)."""

    ts: datetime
    energy_wh: int


@dataclass(slots=True)
class ReportPage:
    system: System
    meters: list[Meter]
    window: WindowState
    readings: list[read_store.ReadingRow]
    refusals: list[read_store.WriteRow] = field(default_factory=list)
    can_report: bool = False  # the viewer is the System Representative (the rules say so)
    representative: str = ""  # "Rita Rep (rep-1)", or "" when the system has none
    # (meter_id, ts) of the readings the viewer may withdraw or correct now
    correctable: set[tuple[str, datetime]] = field(default_factory=set)
    withdrawals: list[wstore.WithdrawalRow] = field(default_factory=list)

    @property
    def system_name(self) -> str:
        return self.system.name or self.system.system_id


def visible_system(conn: psycopg.Connection[Any], account: Account, system_id: str) -> System:
    """The system if the account holds a role on it; otherwise `not_found` (never 'exists')."""
    system = registry_store.get_system(conn, system_id)
    if system is None:
        raise not_found("system")
    require_read(account, system)  # not_your_system: answered as 404 by the web layer
    return system


def my_systems(conn: psycopg.Connection[Any], account: Account) -> list[System]:
    return [s for s in registry_store.list_systems(conn) if can_read(account, s)]


def window_state(system: System, now: datetime) -> WindowState:
    month = month_reported_at(now, system.timezone)
    if month is None:
        month_now = now.astimezone(ZoneInfo(system.timezone)).strftime("%Y-%m")
        opens, closes = window_for(month_now, system.timezone)
    else:
        opens, closes = window_for(month, system.timezone)
    return WindowState(system.timezone, month, opens, closes)


def last_months(now: datetime, timezone: str, count: int) -> list[str]:
    """The `count` local months ending with the current one, oldest first."""
    first = now.astimezone(ZoneInfo(timezone)).date().replace(day=1)
    months = []
    for _ in range(count):
        months.append(first.strftime("%Y-%m"))
        first = (first - timedelta(days=1)).replace(day=1)
    return months[::-1]


def monthly_production(
    conn: psycopg.Connection[Any], system: System, now: datetime, count: int = 24
) -> list[MonthProduction]:
    """Each of the last `count` months: as closed (or amended), else as measured so far."""
    months = last_months(now, system.timezone, count)
    closed = {r.month: r for r in cstore.closes_of(conn, system.system_id)}
    amendments = amendments_of(conn, system.system_id)
    measured = read_store.measured_months(conn, system.system_id, months[0])
    out = []
    for month in months:
        if month in closed:
            row = closed[month]
            mine = [a for a in amendments if a.month == month]
            basis = "amended" if mine else "estimated" if row.estimated else "closed"
            out.append(MonthProduction(month, stated_wh(row.energy_wh, mine), basis))
        elif month in measured:
            out.append(MonthProduction(month, measured[month], "measured"))
        else:
            out.append(MonthProduction(month, None, ""))
    return out


def system_page(
    conn: psycopg.Connection[Any], account: Account, system_id: str, now: datetime
) -> SystemPage:
    system = visible_system(conn, account, system_id)
    findings = _findings(conn, system.system_id)
    manual = system.reporting_method is ReportingMethod.MANUAL
    return SystemPage(
        system=system,
        roles=roles_on(account, system),
        meters=registry_store.list_meters(conn, system.system_id),
        monthly=monthly_production(conn, system, now),
        recent=read_store.readings(conn, system.system_id, None, None, None, 10),
        flagged=read_store.flagged_readings(conn, system.system_id, now - timedelta(days=90)),
        findings=findings[-20:],
        ledger=cstore.ledger_of(conn, system.system_id),
        change_requests=cstore.change_requests(conn, system.system_id),
        window=window_state(system, now) if manual else None,
    )


def _findings(conn: psycopg.Connection[Any], system_id: str) -> list[tuple[str, str, str]]:
    """(month, code, message) of every finding of the system's closed months."""
    out = []
    for row in cstore.closes_of(conn, system_id):
        summary = cstore.month_close(conn, system_id, row.month)
        if summary is not None:
            out += [(row.month, f.get("code", ""), f.get("message", "")) for f in summary.findings]
    return out


def report_page(
    conn: psycopg.Connection[Any], account: Account, system_id: str, now: datetime
) -> ReportPage:
    """The manual report form: the window, the last three months' readings and refusals."""
    system = visible_system(conn, account, system_id)
    local = now.astimezone(ZoneInfo(system.timezone))
    three_months_ago = local - timedelta(days=92)
    month = local.strftime("%Y-%m")
    meters = active_meters(registry_store.list_meters(conn, system.system_id), month)
    try:
        require_submit(account, system)
        can_report = True
    except Refused:
        can_report = False
    readings = read_store.readings(conn, system.system_id, three_months_ago, None, None, 50)
    closed = {r.month for r in cstore.closes_of(conn, system.system_id)}
    return ReportPage(
        system=system,
        meters=meters,
        window=window_state(system, now),
        readings=readings,
        refusals=[
            w
            for w in read_store.writes_on(conn, system.system_id, MANUAL_REPORT, three_months_ago)
            if w.outcome != "done"
        ],
        can_report=can_report,
        representative=_person(conn, system.representative_id),
        correctable={
            (r.meter_id, r.ts) for r in readings if may_withdraw(account, system, r, now, closed)
        },
        withdrawals=wstore.of_system(conn, system.system_id, three_months_ago),
    )


def may_withdraw(
    account: Account,
    system: System,
    reading: read_store.ReadingRow,
    now: datetime,
    closed: set[str],
) -> bool:
    """Whether the rules would let `account` withdraw the reading now."""
    stored = withdrawal_rules.StoredReading(
        reading.meter_id,
        reading.ts,
        reading.energy_wh,
        reading.source,
        reading.source_id,
        reading.event,
    )
    try:
        withdrawal_rules.decide(account, system, stored, "asked", now, closed)
    except Refused:
        return False
    return True


def _person(conn: psycopg.Connection[Any], account_id: str | None) -> str:
    """'Rita Rep (rep-1)' (or the id alone), '' for nobody."""
    if not account_id:
        return ""
    row = credential_store.get_account(conn, account_id)
    return f"{row.name} ({account_id})" if row is not None and row.name else account_id


def reading_month(moment: datetime, timezone: str) -> str:
    """The reporting month a reading at `moment` is filed under."""
    return filed_month(moment, timezone)


def reading_before(conn: psycopg.Connection[Any], meter_id: str, ts: datetime) -> Earlier | None:
    """The meter's reading in force just before `ts`."""
    before, _ = wstore.neighbours(conn, meter_id, ts)
    found = None if before is None else wstore.in_force(conn, meter_id, before)
    return None if found is None else Earlier(found.ts, found.energy_wh)


def last_reading(conn: psycopg.Connection[Any], meter_id: str) -> Earlier | None:
    found = cstore.last_reading(conn, meter_id)
    return None if found is None else Earlier(found.ts, found.energy_wh)


def readings(
    conn: psycopg.Connection[Any],
    account: Account,
    system_id: str,
    since: datetime | None,
    until: datetime | None,
    before: datetime | None,
    limit: int,
) -> list[read_store.ReadingRow]:
    visible_system(conn, account, system_id)
    return read_store.readings(conn, system_id, since, until, before, limit)


def meter_system(conn: psycopg.Connection[Any], account: Account, meter_id: str) -> System:
    """The system of a meter the account may see (else `not_found`)."""
    meter = registry_store.get_meter(conn, meter_id)
    if meter is None:
        raise not_found("meter")
    try:
        return visible_system(conn, account, meter.system_id)
    except Refused as refusal:
        raise not_found("meter") from refusal


def admin_queue(
    conn: psycopg.Connection[Any], account: Account
) -> tuple[list[cstore.ChangeRequestRow], list[read_store.FlaggedClose]]:
    """Open change requests and the flagged systems of the latest close (admins only)."""
    require_admin(account, "see the admin queue")
    requests = []
    for system_id, request_id in read_store.open_change_requests(conn):
        requests += [
            r for r in cstore.change_requests(conn, system_id) if r.request_id == request_id
        ]
    return requests, read_store.flagged_of_last_close(conn)


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()
