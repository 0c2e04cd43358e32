"""Registry rows: upsert and read systems, meters and DAS providers (schemas/registry.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from schemas.registry import DasProvider, Meter, System

_Model = TypeVar("_Model", bound=BaseModel)

# table, key column, model
_TABLES: dict[type[BaseModel], tuple[str, str]] = {
    DasProvider: ("das_providers", "provider_id"),
    System: ("systems", "system_id"),
    Meter: ("meters", "meter_id"),
}


def _upsert_sql(model: type[BaseModel]) -> str:
    table, key = _TABLES[model]
    columns = list(model.model_fields)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key)
    placeholders = ", ".join(f"%({c})s" for c in columns)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def upsert(conn: psycopg.Connection[Any], records: Iterable[BaseModel]) -> int:
    """Insert or update registry records (providers before systems before meters)."""
    ordered = sorted(records, key=lambda r: list(_TABLES).index(type(r)))
    count = 0
    with conn.transaction(), conn.cursor() as cur:
        for record in ordered:
            cur.execute(_upsert_sql(type(record)), record.model_dump(mode="python"))
            count += 1
    return count


def _load(
    conn: psycopg.Connection[Any], model: type[_Model], where: str, params: tuple[Any, ...]
) -> list[_Model]:
    table, key = _TABLES[model]
    columns = ", ".join(model.model_fields)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {columns} FROM {table} {where} ORDER BY {key}", params)
        return [model.model_validate(row) for row in cur.fetchall()]


def get_system(conn: psycopg.Connection[Any], system_id: str) -> System | None:
    found = _load(conn, System, "WHERE system_id = %s", (system_id,))
    return found[0] if found else None


def get_meter(conn: psycopg.Connection[Any], meter_id: str) -> Meter | None:
    found = _load(conn, Meter, "WHERE meter_id = %s", (meter_id,))
    return found[0] if found else None


def get_provider(conn: psycopg.Connection[Any], provider_id: str) -> DasProvider | None:
    found = _load(conn, DasProvider, "WHERE provider_id = %s", (provider_id,))
    return found[0] if found else None


def list_systems(conn: psycopg.Connection[Any]) -> list[System]:
    return _load(conn, System, "", ())


def list_meters(conn: psycopg.Connection[Any], system_id: str | None = None) -> list[Meter]:
    if system_id is None:
        return _load(conn, Meter, "", ())
    return _load(conn, Meter, "WHERE system_id = %s", (system_id,))


def list_providers(conn: psycopg.Connection[Any]) -> list[DasProvider]:
    return _load(conn, DasProvider, "", ())


def capacity_steps(
    conn: psycopg.Connection[Any], system_ids: list[str]
) -> dict[str, list[tuple[date, Decimal]]]:
    """system_id → its capacities (effective day, kW DC) in day order (migration 021)."""
    rows = conn.execute(
        "SELECT system_id, effective_from, capacity_kw_dc FROM system_capacities "
        "WHERE system_id = ANY(%s) ORDER BY system_id, effective_from",
        (system_ids,),
    ).fetchall()
    out: dict[str, list[tuple[date, Decimal]]] = {}
    for system_id, day, kw in rows:
        out.setdefault(system_id, []).append((day, Decimal(kw)))
    return out


def correct_capacity(
    conn: psycopg.Connection[Any],
    system_id: str,
    since: date,
    capacity_kw_dc: Decimal,
    by: str,
    reason: str,
) -> None:
    """Record that the system's capacity was `capacity_kw_dc` from `since` on (a correction:
    closed months included), with who and why; when no later capacity is recorded it is
    also the system's capacity today."""
    conn.execute(
        "INSERT INTO system_capacities (system_id, effective_from, capacity_kw_dc, "
        "recorded_by, reason) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (system_id, "
        "effective_from) DO UPDATE SET capacity_kw_dc = EXCLUDED.capacity_kw_dc, "
        "recorded_at = now(), recorded_by = EXCLUDED.recorded_by, reason = EXCLUDED.reason",
        (system_id, since, capacity_kw_dc, by, reason),
    )
    conn.execute("SELECT set_config('pts.capacity_corrected', 'on', true)")
    conn.execute(
        "UPDATE systems SET capacity_kw_dc = %s WHERE system_id = %s AND NOT EXISTS (SELECT 1 "
        "FROM system_capacities WHERE system_id = %s AND effective_from > %s)",
        (capacity_kw_dc, system_id, system_id, since),
    )
    conn.execute("SELECT set_config('pts.capacity_corrected', 'off', true)")
