"""SQL for the certification tables (the rules live in certification/)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

_POINTS = """
(SELECT ts, energy_wh, event, register_modulus_wh, flags FROM readings
  WHERE meter_id = %(m)s AND ts < %(lo)s ORDER BY ts DESC LIMIT 1)
UNION ALL
(SELECT ts, energy_wh, event, register_modulus_wh, flags FROM readings
  WHERE meter_id = %(m)s AND ts >= %(lo)s AND ts < %(hi)s)
UNION ALL
(SELECT ts, energy_wh, event, register_modulus_wh, flags FROM readings
  WHERE meter_id = %(m)s AND ts >= %(hi)s ORDER BY ts LIMIT 1)
"""


def month_points(
    conn: psycopg.Connection[Any], meter_id: str, lo: datetime, hi: datetime
) -> list[tuple[datetime, int, str | None, int | None, list[str]]]:
    """(ts, energy_wh, event, modulus, flags) of a meter's readings in [lo, hi), plus the one
    before and the one at or after `hi`."""
    rows = conn.execute(_POINTS, {"m": meter_id, "lo": lo, "hi": hi}).fetchall()
    return [(r[0], int(r[1]), r[2], r[3], list(r[4])) for r in rows]


def closed_months(conn: psycopg.Connection[Any], month: str) -> set[str]:
    rows = conn.execute("SELECT system_id FROM month_closes WHERE month = %s", (month,))
    return {r[0] for r in rows.fetchall()}


def save_close(
    conn: psycopg.Connection[Any],
    system_id: str,
    month: str,
    energy_wh: int,
    estimated: bool,
    findings: list[dict[str, str]],
    meters: list[dict[str, Any]],
    closed_by: str,
    closed_at: datetime,
) -> None:
    conn.execute(
        "INSERT INTO month_closes (system_id, month, energy_wh, estimated, findings, meters, "
        "closed_by, closed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (system_id, month, energy_wh, estimated, Jsonb(findings), Jsonb(meters), closed_by,
         closed_at),
    )  # fmt: skip


def month_close(
    conn: psycopg.Connection[Any], system_id: str, month: str
) -> tuple[Any, ...] | None:
    return conn.execute(
        "SELECT energy_wh, estimated, findings FROM month_closes WHERE system_id = %s "
        "AND month = %s",
        (system_id, month),
    ).fetchone()


def amended_energy(conn: psycopg.Connection[Any], system_id: str, month: str) -> int | None:
    row = conn.execute(
        "SELECT after_wh FROM amendments WHERE system_id = %s AND month = %s "
        "ORDER BY amendment_id DESC LIMIT 1",
        (system_id, month),
    ).fetchone()
    return int(row[0]) if row else None


def add_amendment(
    conn: psycopg.Connection[Any],
    system_id: str,
    month: str,
    before_wh: int,
    after_wh: int,
    reason: str,
    evidence: str,
    amended_by: str,
    amended_at: datetime,
) -> int:
    row = conn.execute(
        "INSERT INTO amendments (system_id, month, before_wh, after_wh, reason, evidence, "
        "amended_by, amended_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING amendment_id",
        (system_id, month, before_wh, after_wh, reason, evidence, amended_by, amended_at),
    ).fetchone()
    assert row is not None
    return int(row[0])


def last_carry(conn: psycopg.Connection[Any], system_id: str) -> Decimal:
    row = conn.execute(
        "SELECT carry_out FROM srec_ledger WHERE system_id = %s ORDER BY seq DESC LIMIT 1",
        (system_id,),
    ).fetchone()
    return Decimal(row[0]) if row else Decimal(0)


def add_ledger(
    conn: psycopg.Connection[Any],
    system_id: str,
    month: str,
    entry: str,
    mwh: Decimal,
    factor: Decimal,
    carry_in: Decimal,
    minted: int,
    carry_out: Decimal,
) -> None:
    conn.execute(
        "INSERT INTO srec_ledger (system_id, month, entry, mwh, factor, carry_in, minted, "
        "carry_out) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (system_id, month, entry, mwh, factor, carry_in, minted, carry_out),
    )


def ledger(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT system_id, month, entry, mwh, factor, carry_in, minted, carry_out "
        "FROM srec_ledger ORDER BY system_id, seq"
    ).fetchall()


def closes_for(conn: psycopg.Connection[Any], months: list[str]) -> list[tuple[Any, ...]]:
    """(system_id, month, energy_wh as closed, estimated) for the months given."""
    return conn.execute(
        "SELECT system_id, month, energy_wh, estimated FROM month_closes WHERE month = ANY(%s) "
        "ORDER BY system_id, month",
        (months,),
    ).fetchall()


def unexported_amendments(
    conn: psycopg.Connection[Any], before_months: list[str]
) -> list[tuple[Any, ...]]:
    """Amendments of months before the quarter, not yet carried by an export."""
    return conn.execute(
        "SELECT amendment_id, system_id, month, before_wh, after_wh FROM amendments "
        "WHERE exported_in IS NULL AND month < %s ORDER BY amendment_id",
        (min(before_months),),
    ).fetchall()


def mark_exported(conn: psycopg.Connection[Any], amendment_ids: list[int], quarter: str) -> None:
    conn.execute(
        "UPDATE amendments SET exported_in = %s WHERE amendment_id = ANY(%s)",
        (quarter, amendment_ids),
    )


def save_export(
    conn: psycopg.Connection[Any], quarter: str, content: str, by: str, at: datetime
) -> None:
    conn.execute(
        "INSERT INTO gis_exports (quarter, content, exported_by, exported_at) "
        "VALUES (%s, %s, %s, %s)",
        (quarter, content, by, at),
    )
