"""Withdrawn manual readings (migration 020): record one through the owner's
`pts_withdraw_manual_reading`, list them, and clear the derived rows a withdrawal leaves
without readings (intervals ending in the span it reopens, days no interval touches now).

The web and certification logins may not insert withdrawals themselves: the SECURITY
DEFINER function records one only for a manual reading in force with the value the caller
saw (`InsufficientPrivilege` for another source, `NoDataFound` when there is none,
`SerializationFailure` when it changed meanwhile).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg

_RECORD = "SELECT pts_withdraw_manual_reading(%s, %s, %s, %s, %s, %s, %s, %s)"
_COLUMNS = (
    "withdrawal_id, meter_id, ts, withdrawn_wh, replacement_wh, month, reason, withdrawn_by, "
    "withdrawn_at"
)


@dataclass(frozen=True, slots=True)
class WithdrawalRow:
    withdrawal_id: int
    meter_id: str
    ts: datetime
    withdrawn_wh: int
    replacement_wh: int | None
    month: str
    reason: str
    withdrawn_by: str
    withdrawn_at: datetime


@dataclass(frozen=True, slots=True)
class InForce:
    """A reading in force (readings_in_force) as the withdrawal rules read it."""

    meter_id: str
    ts: datetime
    energy_wh: int
    source: str
    source_id: str
    event: str | None


def record(
    conn: psycopg.Connection[Any],
    meter_id: str,
    ts: datetime,
    withdrawn_wh: int,
    replacement_wh: int | None,
    month: str,
    reason: str,
    withdrawn_by: str,
    withdrawn_at: datetime,
) -> int:
    """Record the withdrawal; its id."""
    row = conn.execute(
        _RECORD,
        (meter_id, ts, withdrawn_wh, replacement_wh, month, reason, withdrawn_by, withdrawn_at),
    ).fetchone()
    assert row is not None
    return int(row[0])


def in_force(conn: psycopg.Connection[Any], meter_id: str, ts: datetime) -> InForce | None:
    """The reading in force at (meter, ts), if any."""
    row = conn.execute(
        "SELECT meter_id, ts, energy_wh, source, source_id, event FROM readings_in_force "
        "WHERE meter_id = %s AND ts = %s",
        (meter_id, ts),
    ).fetchone()
    return None if row is None else InForce(row[0], row[1], int(row[2]), *row[3:])


def neighbours(
    conn: psycopg.Connection[Any], meter_id: str, ts: datetime
) -> tuple[datetime | None, datetime | None]:
    """The instants of the readings in force just before and just after `ts`."""
    row = conn.execute(
        "SELECT (SELECT max(ts) FROM readings_in_force WHERE meter_id = %(m)s AND ts < %(t)s), "
        "(SELECT min(ts) FROM readings_in_force WHERE meter_id = %(m)s AND ts > %(t)s)",
        {"m": meter_id, "t": ts},
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def withdrawn_at(conn: psycopg.Connection[Any], meter_id: str, ts: datetime) -> bool:
    """Whether a withdrawal names (meter, ts): its instant is taken by a withdrawn reading."""
    row = conn.execute(
        "SELECT 1 FROM reading_withdrawals WHERE meter_id = %s AND ts = %s LIMIT 1",
        (meter_id, ts),
    ).fetchone()
    return row is not None


def of_system(
    conn: psycopg.Connection[Any], system_id: str, since: datetime | None = None
) -> list[WithdrawalRow]:
    """A system's withdrawals, newest first (recorded at or after `since`)."""
    rows = conn.execute(
        f"SELECT {', '.join('w.' + c.strip() for c in _COLUMNS.split(','))} "
        "FROM reading_withdrawals w JOIN meters m USING (meter_id) "
        "WHERE m.system_id = %s AND (%s::timestamptz IS NULL OR w.withdrawn_at >= %s) "
        "ORDER BY w.withdrawal_id DESC",
        (system_id, since, since),
    ).fetchall()
    return [_row(r) for r in rows]


def of_meter_between(
    conn: psycopg.Connection[Any], meter_id: str, since: datetime, until: datetime
) -> list[WithdrawalRow]:
    """A meter's withdrawals of readings in [since, until], in the order they were made."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM reading_withdrawals "
        "WHERE meter_id = %s AND ts BETWEEN %s AND %s ORDER BY withdrawal_id",
        (meter_id, since, until),
    ).fetchall()
    return [_row(r) for r in rows]


def _row(r: Sequence[Any]) -> WithdrawalRow:
    return WithdrawalRow(
        int(r[0]), r[1], r[2], int(r[3]), None if r[4] is None else int(r[4]), *r[5:]
    )


def delete_intervals(
    conn: psycopg.Connection[Any], meter_id: str, after: datetime | None, upto: datetime | None
) -> None:
    """Drop the meter's derived intervals ending in (after, upto] (None: no bound): the span
    a withdrawal reopens, before the intervals of the readings in force are written again."""
    conn.execute(
        "DELETE FROM meter_interval_energy WHERE meter_id = %(m)s "
        "AND (%(a)s::timestamptz IS NULL OR interval_end > %(a)s) "
        "AND (%(u)s::timestamptz IS NULL OR interval_end <= %(u)s)",
        {"m": meter_id, "a": after, "u": upto},
    )


def delete_days(conn: psycopg.Connection[Any], meter_id: str, days: Sequence[date]) -> None:
    """Drop the meter's day rows of `days` (days no interval touches any more)."""
    if days:
        conn.execute(
            "DELETE FROM meter_day_energy WHERE meter_id = %s AND day = ANY(%s)",
            (meter_id, list(days)),
        )
