"""Migration 007 (month holds): releases and export lines are append-only, and the lines of
exports made before 007 are read back from their uploaded CSV."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from storage import certification_store, migrate

pytestmark = pytest.mark.integration


def test_releases_and_export_lines_are_append_only(fresh_db: str) -> None:
    at = datetime(2026, 10, 30, tzinfo=UTC)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO systems (system_id, owner_id, capacity_kw_dc, program, "
            "reporting_method) VALUES ('S1', 'o', 10, 'srec_ii', 'manual')"
        )
        certification_store.add_release(
            conn, "S1", "2026-07", "accepted_as_reported", None, 5, "checked", "staff-1", at
        )
        certification_store.save_export(conn, "2026Q3", "", "staff-1", at)
        certification_store.add_export_lines(conn, "2026Q3", [("S1", "2026-07", Decimal("1.5"))])
        for table in ("month_releases", "gis_export_lines"):
            conn.execute(f"UPDATE {table} SET month = '2026-08'")
            conn.execute(f"DELETE FROM {table}")
        release = certification_store.release_of(conn, "S1", "2026-07")
        with pytest.raises(psycopg.errors.CheckViolation):
            certification_store.add_release(
                conn, "S1", "2026-08", "accepted_as_reported", None, 5, " ", "staff-1", at
            )
        sent = certification_store.exported_mwh(conn)
    assert release is not None
    assert release.reason == "checked"
    assert sent == {("S1", "2026-07"): Decimal("1.500")}


@pytest.fixture
def database(pg_admin_url: str) -> Iterator[str]:
    name = f"pts_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_exports_before_007_are_read_back_into_lines(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2026Q3 upload stored by 006 becomes its lines (unit → system, MM/YYYY → month)."""
    for path in migrate.MIGRATIONS_DIR.glob("00[1-6]_*.sql"):
        shutil.copy(path, tmp_path / path.name)
    real = migrate.discover
    monkeypatch.setattr(migrate, "discover", lambda: real(tmp_path))
    migrate.migrate(database, "plain")
    with psycopg.connect(database, autocommit=True) as conn:
        for sid, unit in (("S1", "NON1"), ("S2", "NON2")):
            conn.execute(
                "INSERT INTO systems (system_id, owner_id, capacity_kw_dc, program, "
                "reporting_method, gis_unit_id) VALUES (%s, 'o', 10, 'srec_ii', 'manual', %s)",
                (sid, unit),
            )
        conn.execute(
            "INSERT INTO gis_exports VALUES ('2026Q3', %s, 'staff-1', now())",
            ("NON1,07/2026,1.240\nNON1,08/2026,1.240\nNON2,09/2026,0.600\nNON1,06/2026,0.060\n",),
        )
    monkeypatch.setattr(migrate, "discover", real)
    migrate.migrate(database)
    with psycopg.connect(database) as conn:
        sent = certification_store.exported_mwh(conn)
    assert sent == {
        ("S1", "2026-06"): Decimal("0.060"),
        ("S1", "2026-07"): Decimal("1.240"),
        ("S1", "2026-08"): Decimal("1.240"),
        ("S2", "2026-09"): Decimal("0.600"),
    }
