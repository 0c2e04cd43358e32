"""The NEPOOL GIS export of a quarter: load the closes, amendments and what earlier exports
sent, decide the lines with certification.gis_export.pending_lines, save the export, its lines
and mark the amendments it carried.

What a system-month states: its amended energy when amended, else its certified (metered)
energy as closed. A month is sent when it is certifiable (REC terms accepted, a GIS unit, not
held, not a whole-month estimate), the SREC ledger has credited it (a month closed before the
REC terms were accepted is not, until an amendment after acceptance credits it), with the MWh
the ledger credited, and that differs from what exports sent so far:
the first time as the month's line, later as an adjustment line (the difference). So a held
month released after its quarter went out, an amended estimate, or the back months of a
system registered late all go out in the next export, and nothing goes out twice. The REC
terms in force at the export decide: a month credited before its system withdrew them and
not sent yet is left out and its credit taken back (`terms:<quarter>`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import structlog

from certification.errors import Refused
from certification.gis_export import (
    MonthStatement,
    PendingLine,
    pending_lines,
    quarter_months,
    render,
    require_exportable,
)
from certification.month_close import Thresholds
from certification.roles import Account, require_admin
from certification.workflows._common import amendments_of
from certification.workflows.accept_month import book_mwh
from certification.workflows.late_readings import check_closed_months
from storage import certification_store as store
from storage import registry_store
from storage.ledger_lock import lock_ledger

log = structlog.get_logger(__name__)


def _pending(conn: psycopg.Connection[Any], quarter: str) -> list[PendingLine]:
    months = quarter_months(quarter)
    systems = {s.system_id: s for s in registry_store.list_systems(conn)}
    amendments = {sid: amendments_of(conn, sid) for sid in systems}
    credited = _credited(conn)
    statements = []
    for close in store.closes_until(conn, months[-1]):
        system = systems[close.system_id]
        amended = [a for a in amendments[close.system_id] if a.month == close.month]
        statements.append(
            MonthStatement(
                close.system_id,
                system.gis_unit_id if system.rec_terms_accepted else None,
                close.month,
                close.certified_wh,
                close.estimated,
                close.held,
                tuple(amended),
                system.gis_unit_id,
                credited.get((close.system_id, close.month)),
            )
        )
    return pending_lines(statements, store.exported_mwh(conn))


def _credited(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], Decimal]:
    """(system_id, month) → the MWh the ledger credited it (entries summed); a month whose
    credit was all taken back (REC terms withdrawn before its export) is as never credited
    and has no key; a month credited 0.000 at its close (metered, no production) keeps it."""
    total: dict[tuple[str, str], Decimal] = {}
    moved: set[tuple[str, str]] = set()
    for entry in store.ledger(conn):
        key = (entry.system_id, entry.month)
        total[key] = total.get(key, Decimal(0)) + entry.mwh
        if entry.mwh:
            moved.add(key)
    return {key: mwh for key, mwh in total.items() if mwh or key not in moved}


def _take_back_unsendable(
    conn: psycopg.Connection[Any], quarter: str, pending: list[PendingLine]
) -> None:
    """The terms in force at the export decide what goes out: a system whose REC terms were
    withdrawn (or whose GIS unit was removed) after some of its months were credited, before
    an export sent them, has them left out of this export; the ledger takes back the credit
    no export sent (entry `terms:<quarter>`, to the month's REC Owner at its factor), so the
    ledger and NEPOOL GIS agree. What earlier exports sent stays credited (GIS holds it)."""
    withdrawn = {
        s.system_id: s
        for s in registry_store.list_systems(conn)
        if not (s.rec_terms_accepted and s.gis_unit_id)
    }
    if not withdrawn:
        return
    last = quarter_months(quarter)[-1]
    sent = store.exported_mwh(conn)
    for p in pending:
        key = (p.system_id, p.line.month)
        sent[key] = sent.get(key, Decimal(0)) + p.line.mwh
    for (system_id, month), credited in sorted(_credited(conn).items()):
        system = withdrawn.get(system_id)
        if system is None or month > last:
            continue
        unsent = credited - sent.get((system_id, month), Decimal(0))
        if unsent > 0:
            book_mwh(conn, system, month, -unsent, f"terms:{quarter}")
            log.warning("credit_taken_back", system_id=system_id, month=month, reason="rec_terms")


def _check_late(
    conn: psycopg.Connection[Any], quarter: str, thresholds: Thresholds | None, now: datetime
) -> None:
    """Hold every closed month late readings changed, before deciding the lines."""
    check_closed_months(
        conn,
        [(s, store.closes_of(conn, s.system_id)) for s in registry_store.list_systems(conn)],
        f"late:{quarter}",
        thresholds or Thresholds(),
        now,
    )


def draft_export(
    conn: psycopg.Connection[Any],
    quarter: str,
    admin: Account,
    thresholds: Thresholds | None = None,
) -> str:
    """The lines the quarter's upload would carry so far, for review: not the upload,
    nothing is recorded or marked exported (the late-readings check the export makes first
    is made and rolled back, so the draft leaves out what the export would)."""
    require_admin(admin, "draft a NEPOOL GIS export")
    with conn.transaction(force_rollback=True):
        lock_ledger(conn)
        _check_late(conn, quarter, thresholds, datetime.now(UTC))
        pending = _pending(conn, quarter)
        _take_back_unsendable(conn, quarter, pending)
        return render(p.line for p in pending)


def export_quarter(
    conn: psycopg.Connection[Any],
    quarter: str,
    admin: Account,
    now: datetime,
    timezone: str = "America/New_York",
    thresholds: Thresholds | None = None,
) -> str:
    """The NEPOOL GIS upload for `quarter`: its closed, certifiable months, plus whatever
    earlier months state beyond what earlier exports sent (see the module docstring). Late
    readings into any closed month are checked first: a month they changed is held
    (`late:<quarter>`) and left out, never sent with energy its readings no longer count."""
    require_admin(admin, "export to NEPOOL GIS")
    require_exportable(quarter, now, timezone)
    months = quarter_months(quarter)
    with conn.transaction():
        lock_ledger(conn)  # one ledger writer at a time (two admins at once)
        if quarter in store.exported_quarters(conn):
            raise Refused("already_exported", f"{quarter} was exported; amend to adjust it")
        closed = {r.month for r in store.closes_for(conn, months)}
        for month in months:
            if month not in closed:
                raise Refused("month_not_closed", f"{month} is not closed; close it first")
        _check_late(conn, quarter, thresholds, now)
        pending = _pending(conn, quarter)
        _take_back_unsendable(conn, quarter, pending)
        content = render(p.line for p in pending)
        store.save_export(conn, quarter, content, admin.account_id, now)
        store.add_export_lines(
            conn, quarter, [(p.system_id, p.line.month, p.line.mwh) for p in pending]
        )
        store.mark_exported(conn, [a for p in pending for a in p.amendment_ids], quarter)
    log.info("quarter_exported", quarter=quarter, lines=len(pending))
    return content
