"""Close a month per system: load each meter's readings, decide production, findings and
estimates with certification.month_close, holds with certification.holds, mint with
certification.srec, save the close and the ledger entries.

Closing is per system-month: `close_month` closes every registered system whose month is
not closed yet (or the one system asked for), so a system registered after a month was
closed can close that month later; re-closing a closed system-month is refused.

Certified energy: the metered meters' energy. A silent meter's estimate is part of the
month's energy (reported) but mints nothing; its energy is counted when it reports again.
A month held by a finding (certification.holds) mints nothing until staff release it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import structlog

from certification import audits
from certification.amendments import stated_wh
from certification.capacity_history import CapacityHistory
from certification.errors import MonthLockedError, Refused
from certification.holds import holding_codes
from certification.month_close import (
    Finding,
    MeterMonth,
    Thresholds,
    active_meters,
    meter_month,
    resumed_over_capacity,
    system_over_capacity,
)
from certification.roles import Account, require_admin
from certification.srec import mint, mwh_of
from certification.window import require_closable
from certification.workflows._common import amendments_of, capacities_of, register_point
from certification.workflows.late_readings import check_closed_months
from schemas.registry import Meter, ReportingMethod, System
from storage import certification_store as store
from storage import reading_points, registry_store
from storage.ledger_lock import lock_ledger
from stream.calendar import month_bounds
from stream.energy import RegisterPoint

log = structlog.get_logger(__name__)

# systems whose readings are fetched together (a batch's points are held in memory: about
# 3,000 readings per meter-month of 15-minute data)
BATCH_SYSTEMS = 50


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
    certified_wh: int = 0  # the metered part of energy_wh: what may mint
    held_by: tuple[str, ...] = ()  # findings holding the month from minting and export
    system_findings: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[tuple[str, str]]:
        return [(f.code, f"{m.meter_id}: {f.message}") for m in self.meters for f in m.findings] + [
            (f.code, f.message) for f in self.system_findings
        ]


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


@dataclass(slots=True)
class _Open:
    """A system whose month this close computes, with what its close reads besides readings."""

    system: System
    history: list[int]  # the same month's stated energy in earlier years
    earlier: list[store.ClosedMonthRow]  # its closed months before this one
    ends: dict[str, datetime]  # meter_id → where the previous close stopped counting it
    meters: list[Meter]  # the meters active in the month
    capacity: CapacityHistory | None = None  # the system's capacity over time (021)

    def starts(self, month: str) -> dict[str, tuple[datetime, datetime]]:
        """meter_id → the instants its readings are read between: from the month's start
        (or where the previous close stopped, when earlier) to the month's end."""
        start, end = month_bounds(month, ZoneInfo(self.system.timezone))
        out = {}
        for m in self.meters:
            since = self.ends.get(m.meter_id)
            out[m.meter_id] = (min(start, since) if since is not None else start, end)
        return out


def _open(
    conn: psycopg.Connection[Any], system: System, month: str, now: datetime, month_end: datetime
) -> _Open | None:
    """What closing the system's month needs besides readings; None when it was not
    installed yet. Refuses a month still in its reporting window or after an open month."""
    require_closable(month, now, system.timezone)
    if system.install_date and system.install_date >= month_end.date():
        return None  # not installed yet in that month
    history = store.history(conn, system.system_id, month)
    earlier = [r for r in store.closes_of(conn, system.system_id) if r.month < month]
    ends = _ends(earlier, system.system_id, month)
    meters = active_meters(registry_store.list_meters(conn, system.system_id), month)
    return _Open(system, history, earlier, ends, meters)


def _points(
    conn: psycopg.Connection[Any], opened: list[_Open], month: str
) -> dict[str, list[RegisterPoint]]:
    """meter_id → the readings its month is counted from, for every meter of the systems:
    one batch of queries per distinct (start, end), so a fleet plans its queries a few
    times, not once per meter (planning a hypertable query costs milliseconds)."""
    by_bounds: dict[tuple[datetime, datetime], list[str]] = {}
    for o in opened:
        for meter_id, bounds in o.starts(month).items():
            by_bounds.setdefault(bounds, []).append(meter_id)
    return {
        meter_id: [register_point(row) for row in rows]
        for (lo, hi), ids in by_bounds.items()
        for meter_id, rows in reading_points.month_points(conn, ids, lo, hi).items()
    }


def _ends(earlier: list[store.ClosedMonthRow], system_id: str, month: str) -> dict[str, datetime]:
    """meter_id → where the system's latest earlier close stopped counting that meter
    (months close in order: the latest earlier close must be the previous month)."""
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


def _meter_json(m: MeterMonth, limit: tuple[Decimal, Decimal]) -> dict[str, Any]:
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
        "flags": sorted(m.flags),
        # what a late-readings check compares and recounts with (certification.late_readings)
        "span_readings": m.span_readings,
        "power_limit": [str(limit[0]), str(limit[1])],
    }


def _true_up_deduction(
    earlier: list[store.ClosedMonthRow],
    ends: dict[str, datetime],
    amended: dict[str, int],
    month: str,
    timezone: str,
) -> tuple[int, list[Finding]]:
    """Energy this close counts that an amendment already stated for an earlier month.

    A meter that was silent (estimated) resumes where it stopped, so this close counts the
    silent months' energy again (the estimate's true-up). When such a month was amended,
    the amendment stated the whole month; its part beyond what the month's metered meters
    registered is deducted here, so no Wh is certified twice."""
    start, _ = month_bounds(month, ZoneInfo(timezone))
    resumed = [since for since in ends.values() if since < start]
    if not resumed:
        return 0, []
    first = min(resumed).astimezone(ZoneInfo(timezone)).strftime("%Y-%m")
    total, findings = 0, []
    for row in earlier:
        if row.month >= first and row.estimated and row.month in amended:
            # the silent meters' part of the amended month (never negative: an amendment
            # below the metered part does not add energy here)
            share = max(amended[row.month] - row.certified_wh, 0)
            total += share
            findings.append(
                Finding(
                    "true_up_amended",
                    f"{share} Wh counted here belong to {row.month}, already stated by its "
                    "amendment: deducted",
                )
            )
    return total, findings


def close_month(
    conn: psycopg.Connection[Any],
    month: str,
    admin: Account,
    now: datetime,
    thresholds: Thresholds | None = None,
    system_id: str | None = None,
) -> CloseReport:
    """Close `month` for every registered system whose month is still open (or only for
    `system_id`): production, findings, holds, SRECs minted."""
    require_admin(admin, "close a month")
    thresholds = thresholds or Thresholds()
    report = CloseReport(month)
    _, month_end = month_bounds(month, ZoneInfo("UTC"))
    with conn.transaction():
        lock_ledger(conn)  # one ledger writer at a time (two admins at once)
        closed = store.closed_months(conn, month)
        systems = registry_store.list_systems(conn)
        if system_id is not None:
            systems = [s for s in systems if s.system_id == system_id]
            if not systems:
                raise Refused("unknown_system", f"no system {system_id!r} is registered")
            if system_id in closed:
                raise MonthLockedError(
                    "month_closed",
                    f"{month} of {system_id} is already closed; change it with an amendment",
                )
        elif closed and all(s.system_id in closed for s in systems):
            raise MonthLockedError(
                "month_closed",
                f"{month} is already closed for every registered system; change a system's "
                "month with an amendment",
            )
        contacts = store.account_contacts(conn)
        todo = [s for s in systems if s.system_id not in closed]
        for first in range(0, len(todo), BATCH_SYSTEMS):
            opened = [
                o
                for s in todo[first : first + BATCH_SYSTEMS]
                if (o := _open(conn, s, month, now, month_end)) is not None
            ]
            capacities = capacities_of(conn, [o.system for o in opened])
            for o in opened:
                o.capacity = capacities[o.system.system_id]
            points = _points(conn, opened, month)
            late = check_closed_months(
                conn, [(o.system, o.earlier) for o in opened], f"late:{month}", thresholds, now
            )
            for o in opened:
                # advisory here: the months held are the earlier ones
                extra = late.get(o.system.system_id, [])
                report.systems.append(
                    _close_system(conn, o, points, month, admin, now, thresholds, contacts, extra)
                )
    log.info(
        "month_closed",
        month=month,
        systems=len(report.systems),
        flagged=len(report.contact_list()),
        held=sum(1 for s in report.systems if s.held_by),
    )
    return report


def _close_system(
    conn: psycopg.Connection[Any],
    o: _Open,
    points: dict[str, list[RegisterPoint]],
    month: str,
    admin: Account,
    now: datetime,
    thresholds: Thresholds,
    contacts: dict[str, tuple[str, str]],
    extra: Sequence[Finding] = (),
) -> SystemMonth:
    """Decide, save and mint one system's month from its meters' readings (`extra`: findings
    about earlier months, listed with this one's)."""
    system, history, earlier, ends = o.system, o.history, o.earlier, o.ends
    manual = system.reporting_method is ReportingMethod.MANUAL
    meters = [
        meter_month(
            m.meter_id,
            points[m.meter_id],
            month,
            system.timezone,
            system.capacity_kw_dc,
            thresholds,
            history,
            since=ends.get(m.meter_id),
            manual=manual,
            meters=len(o.meters),
            capacity=o.capacity,
        )
        for m in o.meters
    ] or [
        meter_month(
            "(no meter)",
            [],
            month,
            system.timezone,
            system.capacity_kw_dc,
            thresholds,
            history,
            capacity=o.capacity,
        )
    ]
    _add_audit_findings(conn, meters, month, system.timezone)
    start, end = month_bounds(month, ZoneInfo(system.timezone))
    together = system_over_capacity(
        meters,
        min([start, *(ends[m.meter_id] for m in meters if m.meter_id in ends)]),
        end,
        system.capacity_kw_dc,
        thresholds,
        o.capacity,
    )
    amendments = amendments_of(conn, system.system_id)
    amended = {
        m: stated_wh(0, [a for a in amendments if a.month == m])
        for m in {a.month for a in amendments}
    }
    deducted, true_ups = _true_up_deduction(earlier, ends, amended, month, system.timezone)
    energy = sum(m.energy_wh for m in meters) - deducted
    certified = sum(m.energy_wh for m in meters if not m.estimated) - deducted
    estimated = any(m.estimated for m in meters)
    resumed = _resumed_over_capacity(o, meters, month, certified, thresholds, together)
    result = SystemMonth(
        system,
        month,
        energy,
        estimated,
        meters,
        contacts.get(system.owner_id, ("", "")),
        certified_wh=certified,
        system_findings=true_ups
        + ([together] if together else [])
        + ([resumed] if resumed else [])
        + list(extra),
    )
    result.held_by = holding_codes((c for c, _ in result.findings), thresholds.holding)
    store.save_close(
        conn,
        system.system_id,
        month,
        energy,
        estimated,
        [{"code": c, "message": msg} for c, msg in result.findings],
        [
            _meter_json(m, (m.power_kw_dc or system.capacity_kw_dc, thresholds.power_tolerance))
            for m in meters
        ],
        admin.account_id,
        now,
        certified,
        result.held_by,
    )
    metered = certified > 0 or not estimated  # a whole-month estimate mints nothing
    if metered and not result.held_by and system.rec_terms_accepted and system.gis_unit_id:
        # neither held months nor systems whose REC terms are not accepted mint
        owner = system.effective_rec_owner_id  # the month's certificates are theirs
        carry = store.last_carry(conn, system.system_id, owner)
        minted = mint(month, mwh_of(certified), system.srec_factor, carry)
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
            owner,
        )
        result.minted, result.carry_out = minted.minted, minted.carry_out
    return result


def _resumed_over_capacity(
    o: _Open,
    meters: list[MeterMonth],
    month: str,
    certified: int,
    thresholds: Thresholds,
    together: Finding | None,
) -> Finding | None:
    """over_capacity over the window of a meter counted again after silent months, the
    other meters' energy certified by those months included (month_close
    .resumed_over_capacity); None for a system of one meter (its own bound is exact) or when
    over_capacity was found already."""
    start, _ = month_bounds(month, ZoneInfo(o.system.timezone))
    resumed = [
        o.ends[m.meter_id]
        for m in meters
        if not m.estimated and m.meter_id in o.ends and o.ends[m.meter_id] < start
    ]
    if not resumed or len(meters) < 2 or together is not None or o.capacity is None:
        return None
    if any(f.code == "over_capacity" for m in meters for f in m.findings):
        return None
    since = min(resumed)
    first_month = since.astimezone(ZoneInfo(o.system.timezone)).strftime("%Y-%m")
    earlier = sum(r.certified_wh for r in o.earlier if first_month <= r.month < month)
    return resumed_over_capacity(
        month, first_month, since, certified, earlier, o.capacity, thresholds
    )


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
