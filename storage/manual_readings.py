"""Manual readings go in through the owner's `pts_write_manual_readings` (migration 019).

The web and certification logins may not insert into `readings` (a login that could would
store a gateway's or a DAS provider's readings as well); the SECURITY DEFINER function stores
manual readings for them and refuses any other source with `InsufficientPrivilege`, naming
the reading. It keeps storage.writer's rules (first row of a key wins, a key stored with other
content goes to reading_conflicts), so storage.writer sends every all-manual batch here
whichever login writes it: one path for manual readings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg

_WRITE = "SELECT key_meter_id, key_ts, outcome FROM pts_write_manual_readings(%s::jsonb)"


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a reading column type")


def batch_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """The function's argument: the rows (column name → value) as a JSON array."""
    return json.dumps(list(rows), default=_jsonable)


def write_manual_rows(
    conn: psycopg.Connection[Any], rows: Sequence[Mapping[str, Any]]
) -> tuple[int, int, list[tuple[str, datetime]]]:
    """Store manual reading rows in one transaction; return (new, conflict, new keys) as
    storage.writer.write_rows does. Raises InsufficientPrivilege if a row is not manual."""
    if not rows:
        return 0, 0, []
    with conn.transaction():
        found = conn.execute(_WRITE, (batch_json(rows),)).fetchall()
    new_keys = [(str(m), ts) for m, ts, outcome in found if outcome == "new"]
    conflict = sum(1 for _, _, outcome in found if outcome == "conflict")
    return len(new_keys), conflict, new_keys
