"""The NEPOOL GIS export of a quarter: load the closes and amendments, decide the lines with
certification.gis_export and certification.amendments, save the export and mark the
amendments it carried."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
import structlog

from certification import amendments as amend_rules
from certification.errors import Refused
from certification.gis_export import ExportLine, quarter_months, render, require_exportable
from certification.roles import Account, require_admin
from certification.srec import mwh_of
from certification.workflows._common import amendments_of
from storage import certification_store as store
from storage import registry_store

log = structlog.get_logger(__name__)


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
            int(energy_wh), [a for a in amendments_of(conn, system_id) if a.month == month]
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
        closed = {r.month for r in closes}
        for month in months:
            if month not in closed:
                raise Refused("month_not_closed", f"{month} is not closed; close it first")
        lines: list[ExportLine] = []
        for system_id, month, energy_wh, estimated in closes:
            system = systems[system_id]
            if estimated or not system.rec_terms_accepted or not system.gis_unit_id:
                continue
            stated = amend_rules.stated_wh(
                energy_wh, [a for a in amendments_of(conn, system_id) if a.month == month]
            )
            lines.append(ExportLine(system.gis_unit_id, month, mwh_of(stated)))
        carried = []
        for amendment_id, system_id, month, before_wh, after_wh in store.unexported_amendments(
            conn, months
        ):
            system = systems[system_id]
            carried.append(amendment_id)
            if month in months:
                continue  # already in the month's restated line above
            if system.rec_terms_accepted and system.gis_unit_id:
                delta = mwh_of(after_wh) - mwh_of(before_wh)
                lines.append(ExportLine(system.gis_unit_id, month, delta))
        store.mark_exported(conn, carried, quarter)
        content = render(lines)
        store.save_export(conn, quarter, content, admin.account_id, now)
    log.info("quarter_exported", quarter=quarter, lines=len(lines))
    return content
