"""SQL for derived energy: neighbours of new readings, day and month rows, dead letters."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import psycopg

from schemas.reading import ReadingEvent

# (ts, energy_wh, event, register_modulus_wh, flags)
PointRow = tuple[datetime, int, ReadingEvent | None, int | None, list[str]]

_POINTS = """
(SELECT ts, energy_wh, event, register_modulus_wh, flags FROM readings
  WHERE meter_id = %(m)s AND ts < %(lo)s ORDER BY ts DESC LIMIT 1)
UNION ALL
(SELECT ts, energy_wh, event, register_modulus_wh, flags FROM readings
  WHERE meter_id = %(m)s AND ts >= %(lo)s AND ts <= %(hi)s)
UNION ALL
(SELECT ts, energy_wh, event, register_modulus_wh, flags FROM readings
  WHERE meter_id = %(m)s AND ts > %(hi)s ORDER BY ts LIMIT 1)
"""
_NEIGHBOURS = """
SELECT (SELECT max(ts) FROM readings WHERE meter_id = %(m)s AND ts < %(lo)s),
       (SELECT min(ts) FROM readings WHERE meter_id = %(m)s AND ts > %(hi)s)
"""
_UPSERT_DAY = """
INSERT INTO meter_day_energy (meter_id, day, energy_wh, intervals, flags, computed_at)
VALUES (%s, %s, %s, %s, %s, now())
ON CONFLICT (meter_id, day) DO UPDATE SET energy_wh = EXCLUDED.energy_wh,
    intervals = EXCLUDED.intervals, flags = EXCLUDED.flags, computed_at = now()
"""
_REFRESH_MONTH = """
INSERT INTO meter_month_energy (meter_id, month, energy_wh, days, flags, computed_at)
SELECT %(m)s, %(month)s, coalesce(sum(energy_wh), 0), count(*),
       coalesce((SELECT array_agg(DISTINCT f ORDER BY f) FROM meter_day_energy d2,
                 unnest(d2.flags) f
                 WHERE d2.meter_id = %(m)s AND d2.day >= %(month)s
                   AND d2.day < (%(month)s::date + interval '1 month')), '{}'),
       now()
FROM meter_day_energy
WHERE meter_id = %(m)s AND day >= %(month)s AND day < (%(month)s::date + interval '1 month')
ON CONFLICT (meter_id, month) DO UPDATE SET energy_wh = EXCLUDED.energy_wh,
    days = EXCLUDED.days, flags = EXCLUDED.flags, computed_at = now()
"""


def neighbours(
    conn: psycopg.Connection[Any], meter_id: str, lo: datetime, hi: datetime
) -> tuple[datetime | None, datetime | None]:
    """The stored reading instants just before `lo` and just after `hi`."""
    row = conn.execute(_NEIGHBOURS, {"m": meter_id, "lo": lo, "hi": hi}).fetchone()
    return (row[0], row[1]) if row else (None, None)


def points(
    conn: psycopg.Connection[Any], meter_id: str, lo: datetime, hi: datetime
) -> list[PointRow]:
    """Readings in [lo, hi] plus the one before and the one after."""
    rows = conn.execute(_POINTS, {"m": meter_id, "lo": lo, "hi": hi}).fetchall()
    return [(r[0], int(r[1]), ReadingEvent(r[2]) if r[2] else None, r[3], list(r[4])) for r in rows]


def upsert_days(
    conn: psycopg.Connection[Any],
    meter_id: str,
    days: Iterable[tuple[date, int, int, list[str]]],
) -> None:
    with conn.cursor() as cur:
        cur.executemany(_UPSERT_DAY, [(meter_id, d, e, n, f) for d, e, n, f in days])


def refresh_months(conn: psycopg.Connection[Any], meter_id: str, months: Iterable[date]) -> None:
    """Recompute month rows as the sum of their day rows."""
    with conn.cursor() as cur:
        cur.executemany(_REFRESH_MONTH, [{"m": meter_id, "month": m} for m in sorted(set(months))])


def record_dead_letter(
    conn: psycopg.Connection[Any], reason_code: str, reason: str, origin: str, payload: bytes
) -> None:
    conn.execute(
        "INSERT INTO dead_letters (reason_code, reason, origin, payload) VALUES (%s, %s, %s, %s)",
        (reason_code, reason, origin, payload),
    )


def monthly_totals(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], int]:
    """{(meter_id, 'YYYY-MM'): energy_wh} of every stored month."""
    rows = conn.execute(
        "SELECT meter_id, to_char(month, 'YYYY-MM'), energy_wh FROM meter_month_energy"
    ).fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def load_directory_rows(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """(meter_id, system_id, timezone, capacity_kw_dc, register_modulus_wh, das_provider_id)."""
    return conn.execute(
        "SELECT m.meter_id, m.system_id, s.timezone, s.capacity_kw_dc, m.register_modulus_wh, "
        "s.das_provider_id FROM meters m JOIN systems s USING (system_id)"
    ).fetchall()
