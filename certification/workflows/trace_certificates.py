"""The certification report: load each system's closes, amendments and ledger, render every
certificate traced to its readings with certification.certification_report (read-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from certification import certification_report as cert_report
from certification.roles import Account, can_read, require_read
from certification.workflows._common import amendments_of
from storage import certification_store as store
from storage import registry_store


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
                system.system_id,
                r.month,
                r.energy_wh,
                r.estimated,
                tuple(_trace(m) for m in r.meters),
                r.held_by,
            )
            for r in store.closes_of(conn, system.system_id)
        ]
        entries = [cert_report.LedgerEntry(*r) for r in store.ledger_of(conn, system.system_id)]
        unit = system.gis_unit_id or system.system_id
        out.append(
            cert_report.render(
                system.system_id,
                unit,
                closes,
                amendments_of(conn, system.system_id),
                entries,
                system.timezone,
                [
                    cert_report.ReleaseTrace(
                        r.month, r.kind, r.energy_wh, r.reason, r.released_by, r.released_at
                    )
                    for r in store.releases_of(conn, system.system_id)
                ],
                [
                    (h.month, h.code, h.detail)
                    for h in store.holds_after_close(conn, system.system_id)
                    if not h.released
                ],
            )
        )
    return "".join(out)
