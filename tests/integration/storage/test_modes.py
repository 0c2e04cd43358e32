"""Storage modes on the real server: each mode keeps its own promises and says which it is."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from pts.cli import cli
from storage.errors import MigrationError
from storage.migrate import database_info, migrate
from storage.mode import StorageMode
from storage.writer import write_readings
from tests.support import solar_series

pytestmark = pytest.mark.integration


@pytest.mark.storage_modes("plain")
def test_plain_mode_partitions_by_month_and_views_read_the_rollup_tables(fresh_db: str) -> None:
    """Plain: no extension, `readings` range-partitioned by UTC month (created by the writer),
    and the monthly analyst view answers from the maintained table meter_month_energy."""
    info = database_info(fresh_db)
    series = solar_series(
        "P1", datetime(2026, 3, 31, 22, tzinfo=UTC), datetime(2026, 4, 1, 2, tzinfo=UTC)
    )
    with psycopg.connect(fresh_db) as conn:
        conn.execute(
            "INSERT INTO das_providers (provider_id, name) VALUES ('d', 'd'); "
            "INSERT INTO systems (system_id, owner_id, capacity_kw_dc, program, "
            "reporting_method) VALUES ('S1', 'o', 5, 'srec_ii', 'automatic'); "
            "INSERT INTO meters (meter_id, system_id, serial, model, accuracy_class, "
            "installed_on) VALUES ('P1', 'S1', 'x', 'm', '0.5', '2026-01-01')"
        )
        write_readings(conn, series.readings)
        conn.execute(
            "INSERT INTO meter_month_energy (meter_id, month, energy_wh, days) "
            "VALUES ('P1', '2026-03-01', 123456, 31)"
        )
        kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'readings'").fetchone()
        parts = conn.execute(
            "SELECT c.relname, count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN readings r ON r.tableoid = c.oid "
            "WHERE i.inhparent = 'readings'::regclass GROUP BY 1 ORDER BY 1"
        ).fetchall()
        extensions = conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        monthly = conn.execute(
            "SELECT system_id, month, energy_wh, mwh FROM analyst_system_monthly"
        ).fetchall()
    assert (info.mode, info.pending) == (StorageMode.PLAIN, [])
    assert kind == ("p",)
    assert parts == [("readings_y2026m03", 8), ("readings_y2026m04", 9)]
    assert extensions == (0,)
    assert [tuple(map(str, r)) for r in monthly] == [("S1", "2026-03", "123456", "0.123")]


@pytest.mark.storage_modes("timescale")
def test_timescale_mode_has_hypertables_compression_aggregates_and_jobs(fresh_db: str) -> None:
    """Timescale: hypertables with compression after their ages, the monthly continuous
    aggregate with real-time aggregation, the refresh and retention jobs (paused here: the
    fixture asked), and the compression age can be changed."""
    info = database_info(fresh_db)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        hypertables = conn.execute(
            "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = 'public' ORDER BY 1"
        ).fetchall()
        cagg = conn.execute(
            "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
        ).fetchall()
        monthly_sources = conn.execute(
            "SELECT v.relname, array_agg(DISTINCT s.relname ORDER BY s.relname) "
            "FROM pg_class v JOIN pg_rewrite w ON w.ev_class = v.oid "
            "JOIN pg_depend d ON d.objid = w.oid JOIN pg_class s ON s.oid = d.refobjid "
            "WHERE v.relname IN ('analyst_meter_monthly', 'analyst_system_monthly') "
            "AND s.oid <> v.oid GROUP BY 1 ORDER BY 1"
        ).fetchall()
        jobs_before = jobs(conn)
        conn.execute("SELECT pts_set_compress_after('readings', interval '60 days')")
        jobs_after = jobs(conn)
    assert (info.mode, info.pending, info.timescale_available) == (StorageMode.TIMESCALE, [], True)
    assert hypertables == [
        ("meter_day_energy", False),
        ("meter_interval_energy", True),
        ("readings", True),
    ]
    assert cagg == [("meter_month_cagg", False)]
    assert monthly_sources == [  # a later migration replacing them must keep the aggregate
        ("analyst_meter_monthly", ["meter_month_energy_live", "meters"]),
        ("analyst_system_monthly", ["meter_month_energy_live", "meters"]),
    ]
    assert jobs_before == [
        ("policy_compression", "meter_interval_energy", "90 days", False),
        ("policy_compression", "readings", "30 days", False),
        ("pts_interval_retention", None, "400 days", False),
        ("pts_refresh_monthly", None, None, False),
    ]
    assert jobs_after[1] == ("policy_compression", "readings", "60 days", False)


def jobs(conn: psycopg.Connection[Any]) -> list[tuple[str, str | None, str | None, bool]]:
    """(procedure, hypertable, age setting, scheduled) of the database's own jobs."""
    rows = conn.execute(
        "SELECT proc_name, hypertable_name, "
        "coalesce(config ->> 'compress_after', config ->> 'drop_after'), scheduled "
        "FROM timescaledb_information.jobs WHERE job_id >= 1000 ORDER BY 1, 2"
    ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_migrate_is_idempotent(fresh_db: str, storage_mode: str) -> None:
    """Migrating again applies nothing and keeps the mode."""
    before = database_info(fresh_db).applied
    assert migrate(fresh_db) is StorageMode(storage_mode)
    assert database_info(fresh_db).applied == before


def test_mode_cannot_change_after_creation(fresh_db: str, storage_mode: str) -> None:
    """A database cannot be migrated in the other mode later: the message says why."""
    other = {"plain": "timescale", "timescale": "plain"}[storage_mode]
    with pytest.raises(MigrationError, match=f"created in {storage_mode} mode"):
        migrate(fresh_db, other)


def test_db_info_command_names_the_mode(fresh_db: str, storage_mode: str) -> None:
    """`pts db info` prints the active mode in words."""
    result = CliRunner().invoke(cli, ["db", "info"], env={"PTS_DATABASE_URL": fresh_db})
    assert result.exit_code == 0, result.output
    expected = {
        "plain": "storage mode: plain (plain PostgreSQL: monthly range partitions",
        "timescale": "storage mode: timescale (hypertables, continuous aggregates, compression",
    }[storage_mode]
    assert expected in result.output
    if storage_mode == "timescale":
        assert "timescaledb extension available: yes" in result.output


@pytest.mark.storage_modes("timescale")
def test_day_rows_written_after_their_month_note_it_stale(fresh_db: str) -> None:
    """A day row of a past month is noted stale once per transaction; the current month not."""
    with psycopg.connect(fresh_db) as conn:
        # today as the trigger sees it: the UTC date of this transaction's start (a date read
        # from the test's clock could fall in the month before at midnight on the 1st)
        row = conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date").fetchone()
        assert row is not None
        today = row[0]
        for day in (date(2026, 3, 5), date(2026, 3, 6), today):
            conn.execute(
                "INSERT INTO meter_day_energy (meter_id, day, energy_wh, intervals) "
                "VALUES ('X', %s, 1, 1)",
                (day,),
            )
        conn.commit()
        conn.execute("UPDATE meter_day_energy SET energy_wh = 2 WHERE day = '2026-03-05'")
        conn.commit()
        stale = conn.execute(
            "SELECT month, count(*) FROM pts_stale_months GROUP BY month"
        ).fetchall()
    assert stale == [(date(2026, 3, 1), 2)]


def test_migrate_command_takes_the_mode_from_the_setting(pg_admin_url: str) -> None:
    """`pts db migrate` creates a new database in PTS_STORAGE_MODE (`--mode` overrides it);
    asking for the other mode later is refused with the reason, exit status 1."""
    name = f"pts_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)
    try:
        env = {"PTS_DATABASE_URL": url, "PTS_STORAGE_MODE": "plain"}
        first = CliRunner().invoke(cli, ["db", "migrate"], env=env)
        other = CliRunner().invoke(cli, ["db", "migrate", "--mode", "timescale"], env=env)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[-1] == "database migrated; storage mode: plain"
    assert other.exit_code == 1
    assert "this database was created in plain mode; it cannot be migrated as timescale" in (
        other.output
    )
