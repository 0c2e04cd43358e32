"""Which storage mode a database runs in: TimescaleDB (hypertables, continuous aggregates,
compression) or plain PostgreSQL (declarative partitioning, maintained rollup tables)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import psycopg

from storage.errors import TimescaleUnavailableError, UnknownModeError


class StorageMode(StrEnum):
    TIMESCALE = "timescale"
    PLAIN = "plain"


def timescale_available(conn: psycopg.Connection[Any]) -> bool:
    """True when the server can load the timescaledb extension (installed and preloaded)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if not row or not row[0]:
        return False
    preload = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    return bool(preload and "timescaledb" in str(preload[0]))


def choose_mode(conn: psycopg.Connection[Any], requested: str = "auto") -> StorageMode:
    """The mode to migrate a new database in: `auto` picks Timescale when it can load;
    `timescale` is refused when it cannot (a CREATE EXTENSION error would say less)."""
    if requested == "auto":
        return StorageMode.TIMESCALE if timescale_available(conn) else StorageMode.PLAIN
    try:
        mode = StorageMode(requested)
    except ValueError:
        raise UnknownModeError(
            f"unknown storage mode {requested!r}: use auto, plain or timescale"
        ) from None
    if mode is StorageMode.TIMESCALE and not timescale_available(conn):
        raise TimescaleUnavailableError(
            "timescale mode was asked for but this server cannot load the timescaledb "
            "extension: install it (bash deploy/local/timescaledb.sh install) and preload it "
            "(bash deploy/local/postgres.sh restart), or migrate in plain mode"
        )
    return mode


def recorded_mode(conn: psycopg.Connection[Any]) -> StorageMode | None:
    """The mode a migrated database was created in, or None if it was never migrated."""
    exists = conn.execute("SELECT to_regclass('pts_storage')").fetchone()
    if not exists or exists[0] is None:
        return None
    row = conn.execute("SELECT mode FROM pts_storage").fetchone()
    return StorageMode(row[0]) if row else None
