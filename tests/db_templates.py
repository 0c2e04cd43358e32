"""Migrated template databases for the `fresh_db` fixture (test support, not a test module).

Migrating a new database takes seconds (more in Timescale mode); copying a migrated template
takes a fraction of that. One template per storage mode and content of storage/migrations/:
`pts_tmpl_<mode>_<digest>_<unix time>`, built once under an advisory lock (several test runs
share the cluster), then closed to connections (so no Timescale job scheduler holds it open)
and marked a template. Templates of other migration contents older than an hour are dropped,
best effort.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import psycopg
import psycopg.errors

from storage.migrate import MIGRATIONS_DIR, migrate

_LOCK_KEY = 7_413_099
_STALE_AFTER_S = 3600
_known: dict[tuple[str, str], str] = {}


def migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def template_for(admin_url: str, mode: str) -> str:
    """The name of a complete template database migrated in `mode` from today's migrations."""
    digest = migrations_digest()
    name = _known.get((mode, digest))
    if name:
        return name
    prefix = f"pts_tmpl_{mode}_{digest}_"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            row = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s AND datistemplate",
                (prefix + "%",),
            ).fetchone()
            name = str(row[0]) if row else _build(conn, admin_url, mode, prefix)
            _drop_stale(conn, digest)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    _known[(mode, digest)] = name
    return name


def _build(conn: psycopg.Connection[Any], admin_url: str, mode: str, prefix: str) -> str:
    for (half_built,) in conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s AND NOT datistemplate",
        (prefix + "%",),
    ).fetchall():  # a run that died while building
        conn.execute(f'DROP DATABASE IF EXISTS "{half_built}" WITH (FORCE)')
    name = f"{prefix}{int(time.time())}"
    conn.execute(f'CREATE DATABASE "{name}"')
    migrate(psycopg.conninfo.make_conninfo(admin_url, dbname=name), mode, schedule_jobs=False)
    conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
    )
    conn.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true')
    return name


def _drop_stale(conn: psycopg.Connection[Any], digest: str) -> None:
    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE 'pts\\_tmpl\\_%%' "
        "AND datname NOT LIKE %s",
        (f"%\\_{digest}\\_%",),
    ).fetchall()
    for (name,) in rows:
        built_at = str(name).rsplit("_", 1)[-1]
        if not built_at.isdigit() or time.time() - int(built_at) < _STALE_AFTER_S:
            continue
        try:
            conn.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE false')
            conn.execute(f'DROP DATABASE "{name}"')
        except psycopg.errors.ObjectInUse:
            continue  # another run is copying it right now
