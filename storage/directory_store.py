"""SQL for the meter directory the stream reads: each meter's system, time zone, capacity,
register modulus and DAS provider (stream.directory.MeterInfo)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

_DIRECTORY = (
    "SELECT m.meter_id, m.system_id, s.timezone, s.capacity_kw_dc, m.register_modulus_wh, "
    "s.das_provider_id FROM meters m JOIN systems s USING (system_id)"
)


async def load_directory_rows(aconn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
    """(meter_id, system_id, timezone, capacity_kw_dc, register_modulus_wh, das_provider_id)."""
    cur = await aconn.execute(_DIRECTORY)
    return list(await cur.fetchall())


def directory_rows_sync(
    conn: psycopg.Connection[Any], meter_ids: Iterable[str]
) -> list[tuple[Any, ...]]:
    """`load_directory_rows` for the meters given, on a sync connection."""
    return conn.execute(
        _DIRECTORY + " WHERE m.meter_id = ANY(%s)", (sorted(set(meter_ids)),)
    ).fetchall()
