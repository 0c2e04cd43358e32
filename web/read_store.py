"""SQL for what the pages and the API show and no certification store already reads:
readings of a system (paged), measured monthly energy, flagged readings, the write log of a
system, the latest close's flagged systems, open change requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg


@dataclass(frozen=True, slots=True)
class ReadingRow:
    meter_id: str
    ts: datetime
    energy_wh: int
    source: str
    flags: list[str]
    event: str | None
    source_id: str = ""  # who sent it (a manual reading: the account that entered it)


@dataclass(frozen=True, slots=True)
class WriteRow:
    account_id: str
    at: datetime
    action: str
    target: str
    address: str
    outcome: str
    message: str


@dataclass(frozen=True, slots=True)
class FlaggedClose:
    system_id: str
    month: str
    findings: list[dict[str, str]]
    owner_id: str
    owner_name: str
    owner_email: str


_READING_COLUMNS = "r.meter_id, r.ts, r.energy_wh, r.source, r.flags, r.event, r.source_id"


def readings(
    conn: psycopg.Connection[Any],
    system_id: str,
    since: datetime | None,
    until: datetime | None,
    before: datetime | None,
    limit: int,
) -> list[ReadingRow]:
    """A system's readings in force (migration 020: not the withdrawn ones), newest first, in
    [since, until), older than `before` (the cursor)."""
    rows = conn.execute(
        f"SELECT {_READING_COLUMNS} FROM readings_in_force r JOIN meters m USING (meter_id) "
        "WHERE m.system_id = %(s)s AND (%(since)s::timestamptz IS NULL OR r.ts >= %(since)s) "
        "AND (%(until)s::timestamptz IS NULL OR r.ts < %(until)s) "
        "AND (%(before)s::timestamptz IS NULL OR r.ts < %(before)s) "
        "ORDER BY r.ts DESC, r.meter_id LIMIT %(limit)s",
        {"s": system_id, "since": since, "until": until, "before": before, "limit": limit},
    ).fetchall()
    return [ReadingRow(r[0], r[1], int(r[2]), r[3], list(r[4]), r[5], r[6]) for r in rows]


def flagged_readings(
    conn: psycopg.Connection[Any], system_id: str, since: datetime, limit: int = 50
) -> list[ReadingRow]:
    rows = conn.execute(
        f"SELECT {_READING_COLUMNS} FROM readings_in_force r JOIN meters m USING (meter_id) "
        "WHERE m.system_id = %s AND r.ts >= %s AND cardinality(r.flags) > 0 "
        "ORDER BY r.ts DESC LIMIT %s",
        (system_id, since, limit),
    ).fetchall()
    return [ReadingRow(r[0], r[1], int(r[2]), r[3], list(r[4]), r[5], r[6]) for r in rows]


def measured_months(
    conn: psycopg.Connection[Any], system_id: str, first_month: str
) -> dict[str, int]:
    """month → energy (Wh) the stream measured, from `first_month` on."""
    rows = conn.execute(
        "SELECT month, energy_wh FROM analyst_system_monthly WHERE system_id = %s AND month >= %s",
        (system_id, first_month),
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def writes_on(
    conn: psycopg.Connection[Any], target: str, action: str, since: datetime
) -> list[WriteRow]:
    rows = conn.execute(
        "SELECT account_id, at, action, target, address, outcome, message FROM write_log "
        "WHERE target = %s AND action = %s AND at >= %s ORDER BY write_id DESC",
        (target, action, since),
    ).fetchall()
    return [WriteRow(*r) for r in rows]


def recent_writes(conn: psycopg.Connection[Any], limit: int) -> list[WriteRow]:
    rows = conn.execute(
        "SELECT account_id, at, action, target, address, outcome, message FROM write_log "
        "ORDER BY write_id DESC LIMIT %s",
        (limit,),
    ).fetchall()
    return [WriteRow(*r) for r in rows]


def flagged_of_last_close(conn: psycopg.Connection[Any]) -> list[FlaggedClose]:
    """Systems with findings in the latest closed month, with the owner's contact."""
    rows = conn.execute(
        "SELECT c.system_id, c.month, c.findings, s.owner_id, coalesce(a.name, ''), "
        "coalesce(a.email, '') FROM month_closes c JOIN systems s USING (system_id) "
        "LEFT JOIN accounts a ON a.account_id = s.owner_id "
        "WHERE c.month = (SELECT max(month) FROM month_closes) "
        "AND jsonb_array_length(c.findings) > 0 ORDER BY c.system_id"
    ).fetchall()
    return [FlaggedClose(r[0], r[1], list(r[2]), r[3], r[4], r[5]) for r in rows]


def open_change_requests(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(system_id, request_id) of every open change request, oldest first."""
    rows = conn.execute(
        "SELECT system_id, request_id FROM change_requests WHERE status = 'open' "
        "ORDER BY created_at"
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def daily_energy(
    conn: psycopg.Connection[Any], system_id: str, first: str, last: str
) -> list[tuple[str, int]]:
    """(local day, energy Wh) the stream measured for the system, first..last inclusive."""
    rows = conn.execute(
        "SELECT day, energy_wh FROM analyst_system_daily WHERE system_id = %s "
        "AND day BETWEEN %s::date AND %s::date ORDER BY day",
        (system_id, first, last),
    ).fetchall()
    return [(r[0].isoformat(), int(r[1])) for r in rows]


@dataclass(frozen=True, slots=True)
class ExportRow:
    """A NEPOOL GIS upload as recorded (the final export of a quarter)."""

    quarter: str
    exported_by: str
    exported_at: datetime
    lines: int


def gis_exports(conn: psycopg.Connection[Any]) -> list[ExportRow]:
    """Every recorded quarter's upload, latest first."""
    rows = conn.execute(
        "SELECT quarter, exported_by, exported_at, content FROM gis_exports "
        "ORDER BY exported_at DESC"
    ).fetchall()
    return [ExportRow(r[0], r[1], r[2], len(str(r[3]).splitlines())) for r in rows]


def gis_export_content(conn: psycopg.Connection[Any], quarter: str) -> str | None:
    """The upload file of `quarter` exactly as recorded (None: not exported)."""
    row = conn.execute("SELECT content FROM gis_exports WHERE quarter = %s", (quarter,)).fetchone()
    return None if row is None else str(row[0])
