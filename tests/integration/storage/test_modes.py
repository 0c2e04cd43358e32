"""Storage modes on the real server: plain here, and the database says so."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from pts.cli import cli
from storage.errors import MigrationError
from storage.migrate import database_info, migrate
from storage.mode import StorageMode

pytestmark = pytest.mark.integration


def test_plain_mode_without_timescale(fresh_db: str) -> None:
    """Without the extension the database is plain, partitioned by month, and says so."""
    info = database_info(fresh_db)
    assert info.mode is StorageMode.PLAIN
    assert info.timescale_available is False
    assert info.pending == []
    with psycopg.connect(fresh_db) as conn:
        kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'readings'").fetchone()
    assert kind == ("p",)  # a partitioned table


def test_migrate_is_idempotent(fresh_db: str) -> None:
    """Migrating again applies nothing and keeps the mode."""
    before = database_info(fresh_db).applied
    assert migrate(fresh_db) is StorageMode.PLAIN
    assert database_info(fresh_db).applied == before


def test_mode_cannot_change_after_creation(fresh_db: str) -> None:
    """A plain database cannot be migrated as Timescale later: the message says why."""
    with pytest.raises(MigrationError, match="created in plain mode"):
        migrate(fresh_db, "timescale")


def test_db_info_command_names_the_mode(fresh_db: str) -> None:
    """`pts db info` prints the active mode in words."""
    result = CliRunner().invoke(cli, ["db", "info"], env={"PTS_DATABASE_URL": fresh_db})
    assert result.exit_code == 0, result.output
    assert "storage mode: plain (plain PostgreSQL: monthly range partitions" in result.output
    assert "timescaledb extension available: no" in result.output
