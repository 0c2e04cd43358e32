"""Versioned, idempotent migrations.

Files in `storage/migrations/` are applied in name order: `NNN_name.sql` (both modes), then
`NNN_name.plain.sql` or `NNN_name.timescale.sql` for the database's mode. Each version is
applied once, in its own transaction, under an advisory lock, and recorded in
`pts_schema_migrations`. The mode is chosen when the database is first migrated and recorded
in `pts_storage`; later runs keep it.

Timescale mode adds background jobs (compression, retention, continuous-aggregate refresh).
A migration that adds one ends with `SELECT pts_apply_job_schedule()`, which pauses every
job when the migrating session set `pts.timescale_jobs = 'paused'` (`migrate(...,
schedule_jobs=False)`): tests and bulk loads then run the jobs themselves (`CALL run_job`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import structlog

from storage.errors import MigrationError
from storage.mode import StorageMode, choose_mode, recorded_mode

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(
    r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+?)(?:\.(?P<mode>plain|timescale))?\.sql$"
)
_LOCK_KEY = 7_413_001  # advisory lock id serialising migrators

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    name: str
    common: Path | None
    variants: dict[StorageMode, Path]

    def files_for(self, mode: StorageMode) -> list[Path]:
        files = [self.common] if self.common else []
        if mode in self.variants:
            files.append(self.variants[mode])
        return files


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations found in `directory`, in version order."""
    found: dict[str, dict[str, object]] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_name[.mode].sql")
        entry = found.setdefault(
            match["version"], {"name": match["name"], "common": None, "variants": {}}
        )
        if entry["name"] != match["name"]:
            raise MigrationError(f"version {match['version']} is used by two names")
        if match["mode"]:
            variants = entry["variants"]
            assert isinstance(variants, dict)
            variants[StorageMode(match["mode"])] = path
        else:
            entry["common"] = path
    return [
        Migration(version, str(e["name"]), e["common"], e["variants"])  # type: ignore[arg-type]
        for version, e in sorted(found.items())
    ]


def migrate(url: str, requested_mode: str = "auto", schedule_jobs: bool = True) -> StorageMode:
    """Apply every pending migration to the database at `url`; return its storage mode.

    `requested_mode` (auto, plain, timescale) matters only on the first run; `schedule_jobs`
    False leaves the Timescale background jobs added by these migrations paused.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        if not schedule_jobs:
            conn.execute("SET pts.timescale_jobs = 'paused'")
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            return _migrate_locked(conn, requested_mode)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def _migrate_locked(conn: psycopg.Connection[Any], requested_mode: str) -> StorageMode:
    mode = recorded_mode(conn)
    if mode is None:
        mode = choose_mode(conn, requested_mode)
        with conn.transaction():
            conn.execute(
                "CREATE TABLE pts_storage (mode text NOT NULL, created_at timestamptz NOT NULL "
                "DEFAULT now(), singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton))"
            )
            conn.execute("INSERT INTO pts_storage (mode) VALUES (%s)", (mode.value,))
            conn.execute(
                "CREATE TABLE pts_schema_migrations (version text PRIMARY KEY, name text NOT "
                "NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
        log.info("storage_mode_chosen", mode=mode.value)
    elif requested_mode not in ("auto", mode.value):
        raise MigrationError(
            f"this database was created in {mode.value} mode; it cannot be migrated as "
            f"{requested_mode}"
        )
    applied = {row[0] for row in conn.execute("SELECT version FROM pts_schema_migrations")}
    for migration in discover():
        if migration.version in applied:
            continue
        with conn.transaction():
            for path in migration.files_for(mode):
                try:
                    conn.execute(path.read_text().encode())
                except psycopg.Error as exc:
                    raise MigrationError(f"{path.name} failed: {exc}") from exc
            conn.execute(
                "INSERT INTO pts_schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
        log.info("migration_applied", version=migration.version, name=migration.name)
    return mode


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    mode: StorageMode | None
    applied: list[str]
    pending: list[str]
    server_version: str
    timescale_available: bool


def database_info(url: str) -> DatabaseInfo:
    """What `pts db info` prints: mode, applied and pending migrations, server."""
    from storage.mode import timescale_available

    with psycopg.connect(url, autocommit=True) as conn:
        mode = recorded_mode(conn)
        applied = (
            [r[0] for r in conn.execute("SELECT version FROM pts_schema_migrations ORDER BY 1")]
            if mode
            else []
        )
        version_row = conn.execute("SHOW server_version").fetchone()
        available = timescale_available(conn)
    pending = [m.version for m in discover() if m.version not in applied]
    return DatabaseInfo(
        mode, applied, pending, str(version_row[0]) if version_row else "?", available
    )
