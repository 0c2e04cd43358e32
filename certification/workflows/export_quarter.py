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
system registered late all go out in the next export, and nothing goes out twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
from certification.workflows.late_readings import check_closed_months
from storage import certification_store as store
from storage import registry_store

log = structlog.get_logger(__name__)


def _pending(conn: psycopg.Connection[Any], quarter: str) -> list[PendingLine]:
    months = quarter_months(quarter)
    systems = {s.system_id: s for s in registry_store.list_systems(conn)}
    amendments = {sid: amendments_of(conn, sid) for sid in systems}
    credited = store.credited_months(conn)
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
        _check_late(conn, quarter, thresholds, datetime.now(UTC))
        return render(p.line for p in _pending(conn, quarter))


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
        if quarter in store.exported_quarters(conn):
            raise Refused("already_exported", f"{quarter} was exported; amend to adjust it")
        closed = {r.month for r in store.closes_for(conn, months)}
        for month in months:
            if month not in closed:
                raise Refused("month_not_closed", f"{month} is not closed; close it first")
        _check_late(conn, quarter, thresholds, now)
        pending = _pending(conn, quarter)
        content = render(p.line for p in pending)
        store.save_export(conn, quarter, content, admin.account_id, now)
        store.add_export_lines(
            conn, quarter, [(p.system_id, p.line.month, p.line.mwh) for p in pending]
        )
        store.mark_exported(conn, [a for p in pending for a in p.amendment_ids], quarter)
    log.info("quarter_exported", quarter=quarter, lines=len(pending))
    return content
