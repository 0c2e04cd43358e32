"""Least-privilege database roles (migration 015, docs/database-roles.md): each service's login
does its job and is refused what it must not do; only the owner is trusted without a password.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from ingest.das.credentials import add_api_key
from ingest.das.registry import PostgresIntakeRegistry
from pts.cli import cli
from pts.settings import Settings, service_database_url
from schemas.reading import Reading, Source
from storage.energy_store import monthly_totals
from storage.writer import COLUMNS, reading_to_row, write_readings
from tests.integration.certification.test_cli import REGISTRY_YAML
from tests.integration.web.support import (
    ADMIN,
    IN_WINDOW,
    REP,
    Clock,
    api_token,
    bootstrap_admin,
    csrf_of,
    make_app,
    seed,
    sign_in,
)
from tests.support import (
    APR,
    END,
    MAR,
    START,
    batch_bytes,
    daily_batches,
    hourly_batches,
    register_fleet,
    solar_series,
)

pytestmark = pytest.mark.integration

Login = Callable[[str], str]


@pytest.fixture
def login(pg_admin_url: str) -> Iterator[Login]:
    """login(group) -> URL of a new password login in that group role (dropped afterwards);
    the URL carries the password (test code only; services read it from a passfile)."""
    made: list[str] = []

    def make(group: str) -> str:
        name = f"t_{group}_{uuid.uuid4().hex[:8]}"
        password = uuid.uuid4().hex
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE {group}")
        made.append(name)
        return psycopg.conninfo.make_conninfo(pg_admin_url, user=name, password=password)

    yield make
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in made:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            conn.execute(f"DROP ROLE IF EXISTS {name}")


def on(db_url: str, role_url: str) -> str:
    """`role_url`'s login and password on the database of `db_url`."""
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    return psycopg.conninfo.make_conninfo(role_url, dbname=dbname)


def refused(url: str, statements: list[str]) -> list[str]:
    """The statements the login at `url` was NOT refused (each in its own transaction)."""
    allowed = []
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            try:
                conn.execute(statement.encode())
            except psycopg.errors.InsufficientPrivilege:
                continue
            allowed.append(statement)
    return allowed


READINGS_WRITES = [
    "UPDATE readings SET energy_wh = 0",
    "DELETE FROM readings",
    "TRUNCATE readings",
    "DROP TABLE readings",
    "ALTER TABLE readings ADD COLUMN x int",
    "CREATE TABLE mine (x int)",
    "TRUNCATE srec_ledger",  # UPDATE and DELETE are no-ops by rule (004) for every role
    "DROP TABLE srec_ledger",
    "SELECT * FROM das_mqtt_passwords",
]


@pytest.mark.storage_modes("plain")
def test_only_the_owner_is_trusted_without_a_password(fresh_db: str, login: Login) -> None:
    """A service login needs its scram-sha-256 password (pg_hba from postgres.sh); the owner
    `pts` (migrations, admin, the test suite) connects as before."""
    url = on(fresh_db, login("pts_stream"))
    info = psycopg.conninfo.conninfo_to_dict(url)
    without = psycopg.conninfo.make_conninfo(url, password="")
    wrong = psycopg.conninfo.make_conninfo(url, password="not-it")
    for attempt in (without, wrong):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(attempt, connect_timeout=5).close()
    with psycopg.connect(url) as conn:
        method = conn.execute("SELECT current_user").fetchone()
    with psycopg.connect(fresh_db) as conn:
        owner = conn.execute("SELECT current_user").fetchone()
    assert (method, owner) == ((info["user"],), ("pts",))


async def test_stream_role_stores_a_month_and_touches_nothing_else(
    fresh_db: str, login: Login
) -> None:
    """The worker's role stores two months (a new partition in plain mode), refusals become
    dead letters; it cannot touch the ledger, accounts, credentials or any DDL."""
    from stream.inprocess import InProcessEngine

    url = on(fresh_db, login("pts_stream"))
    series = solar_series("M-ROLE", START, END, seed=3)
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, [series.meter_id])
    now = datetime(2026, 4, 2, tzinfo=UTC)
    async with await InProcessEngine.connect(url, clock=lambda: now) as engine:
        for batch in hourly_batches(series):
            await engine.submit(batch_bytes(batch))
        garbage = await engine.submit(b"\x00 not a batch")
    with psycopg.connect(fresh_db) as conn:
        totals = monthly_totals(conn)
        dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    assert totals[(series.meter_id, "2026-03")] == series.truth(MAR, APR)
    assert (len(garbage.rejects), dead) == (1, (1,))
    assert (
        refused(
            url,
            [
                *READINGS_WRITES,
                "SELECT * FROM srec_ledger",
                "INSERT INTO srec_ledger (system_id) VALUES ('S')",
                "SELECT * FROM month_closes",
                "SELECT * FROM account_credentials",
                "SELECT * FROM web_sessions",
                "SELECT * FROM das_api_keys",
                "UPDATE systems SET capacity_kw_dc = 1",
                "DELETE FROM dead_letters",
                "SELECT pts_write_manual_readings('[]')",  # the web's and certification's
            ],
        )
        == []
    )


def test_stream_commands_use_the_stream_login(fresh_db: str, login: Login) -> None:
    """With PTS_STREAM_DATABASE_URL set, `pts stream redrive` connects as that login (the
    owner's URL names a database that does not exist)."""
    url = on(fresh_db, login("pts_stream"))
    nowhere = psycopg.conninfo.make_conninfo(fresh_db, dbname="no_such_database")
    result = CliRunner().invoke(
        cli,
        ["stream", "redrive", "--reason", "unknown_meter"],
        env={"PTS_DATABASE_URL": nowhere, "PTS_STREAM_DATABASE_URL": url},
    )
    assert (result.exit_code, result.output) == (0, "no unknown_meter dead letters waiting\n")


async def test_intake_role_reads_keys_and_the_registry_only(fresh_db: str, login: Login) -> None:
    """The DAS intake's role finds a provider by key and its systems; it writes no key, no
    reading and no dead letter."""
    url = on(fresh_db, login("pts_intake"))
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["M-I"], provider="das-i")
        key = add_api_key(conn, "das-i")
    registry = PostgresIntakeRegistry(url, pool_max=2)
    try:
        provider = await registry.provider_for_key(key)
        systems = await registry.systems(["S-M-I"])
    finally:
        await registry.close()
    assert (provider, [(s.system_id, s.meter_ids) for s in systems.values()]) == (
        "das-i",
        [("S-M-I", ("M-I",))],
    )
    assert (
        refused(
            url,
            [
                *READINGS_WRITES,
                "INSERT INTO readings (meter_id) VALUES ('M-I')",
                "INSERT INTO das_api_keys (key_sha256, provider_id) VALUES ('x', 'das-i')",
                "UPDATE das_api_keys SET revoked_at = now()",
                "SELECT * FROM account_credentials",
                "UPDATE systems SET capacity_kw_dc = 1",
                "INSERT INTO dead_letters (reason_code, reason, payload) VALUES ('x', 'x', 'x')",
                "SELECT pts_write_manual_readings('[]')",
            ],
        )
        == []
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(IN_WINDOW)


def test_web_role_serves_reports_and_cannot_rewrite_readings(
    fresh_db: str, login: Login, clock: Clock
) -> None:
    """The web service on its own login (PTS_WEB_DATABASE_URL; the owner's URL points
    nowhere): sign-in, a manual report stored; it may not update, delete or drop readings,
    rewrite the ledger or read DAS secrets."""
    seed(fresh_db)
    url = on(fresh_db, login("pts_web"))
    nowhere = psycopg.conninfo.make_conninfo(fresh_db, dbname="no_such_database")
    app = make_app(nowhere, clock, web_database_url=url)
    with TestClient(app, follow_redirects=False) as client:
        signed = sign_in(client, REP)
        page = client.get("/systems/S1/report")
        sent = client.post(
            "/systems/S1/report",
            data={
                "meter_id": "M1",
                "register_kwh": "12,345.6",
                "read_on": "2026-10-29",
                "read_time": "09:30",
                "csrf_token": csrf_of(page.text),
            },
        )
    with psycopg.connect(fresh_db) as conn:
        stored = conn.execute("SELECT meter_id, energy_wh, source FROM readings").fetchall()
    assert (signed.status_code, sent.status_code) == (303, 200), sent.text[:500]
    assert stored == [("M1", 12_345_600, "manual")]
    assert refused(url, [*READINGS_WRITES, "SELECT * FROM das_api_keys"]) == []


def test_certify_role_runs_the_monthly_cycle(fresh_db: str, login: Login, tmp_path: Path) -> None:
    """The certification commands on their own login (PTS_CERTIFY_DATABASE_URL): registry
    load, reports, month close, GIS export; no access to the web's credentials or sessions,
    no rewriting readings or the ledger."""
    url = on(fresh_db, login("pts_certify"))
    nowhere = psycopg.conninfo.make_conninfo(fresh_db, dbname="no_such_database")
    # a person's API token is checked through the web's login (the certify login holds none)
    web_url = on(fresh_db, login("pts_web"))
    env = {"PTS_DATABASE_URL": nowhere, "PTS_CERTIFY_DATABASE_URL": url,
           "PTS_WEB_DATABASE_URL": web_url}  # fmt: skip

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=env)
        if result.exit_code == 1:  # an exception, not a refusal: show it
            raise AssertionError(result.stderr) from result.exception
        return result.exit_code, result.stdout if result.exit_code == 0 else result.stderr

    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY_YAML)
    bootstrap_admin(fresh_db, "staff-1")  # pts accounts create-admin, on the server
    loaded = run("registry", "load", str(registry), "--as", "staff-1")
    env["PTS_TOKEN"] = api_token(fresh_db, "rep-1")  # rep-1 acts with their API token

    def report(wh: int, day: str) -> int:
        return run(
            "report", "submit", "--meter", "M1", "--register-wh", str(wh),
            "--at", f"{day}T20:00:00-04:00", "--now", f"{day}T21:00:00-04:00",
        )[0]  # fmt: skip

    def close(month: str, now: str) -> tuple[int, str]:
        return run("month", "close", month, "--as", "staff-1", "--now", now)

    reports = [report(1_000_000, "2026-06-30"), report(2_240_000, "2026-07-31")]
    closed = close("2026-07", "2026-08-06T05:00:00Z")
    reports += [report(3_480_000, "2026-08-31"), report(4_680_000, "2026-09-30")]
    later = [
        close("2026-08", "2026-09-06T05:00:00Z")[0],
        close("2026-09", "2026-10-06T05:00:00Z")[0],
    ]
    out_file = tmp_path / "gis.csv"
    exported = run(
        "srec", "export", "2026Q3", "--as", "staff-1", "--out", str(out_file),
        "--now", "2026-10-07T00:00:00+00:00",
    )  # fmt: skip
    assert loaded == (0, "providers=0 accounts=3 approved_meters=1 systems=1 meters=1\n")
    assert (reports, later) == ([0, 0, 0, 0], [0, 0])
    assert closed == (
        0,
        "system,energy_wh,estimated,minted,carry\nS1,1233334,false,1,0.233\ncontact list:\n",
    )
    assert exported == (0, f"3 lines written to {out_file}\n")
    assert out_file.read_text() == "NON1,07/2026,1.233\nNON1,08/2026,1.247\nNON1,09/2026,1.193\n"
    assert (
        refused(
            url,
            [
                *READINGS_WRITES,
                "SELECT * FROM account_credentials",
                "SELECT * FROM web_sessions",
                "SELECT * FROM api_tokens",
                "SELECT * FROM das_api_keys",
            ],
        )
        == []
    )


def _reading(source: Source, wh: int, hour: int = 12) -> Reading:
    at = datetime(2026, 3, 2, hour, tzinfo=UTC)
    return Reading(
        meter_id="M1", ts=at, energy_wh=wh, source=source, source_id="rep-1", seq=wh,
        received_at=at,
    )  # fmt: skip


def _compress_readings(conn: psycopg.Connection[Any], storage_mode: str) -> None:
    """Timescale mode: compress every readings chunk (what the 30-day policy does), so later
    writes meet a compressed hypertable, where row-level security is refused."""
    if storage_mode == "timescale":
        conn.execute("SELECT compress_chunk(c, if_not_compressed => true) "
                     "FROM show_chunks('readings') c")  # fmt: skip


@pytest.mark.parametrize("group", ["pts_web", "pts_certify"])
def test_portal_and_certify_roles_write_manual_readings_only(
    fresh_db: str, storage_mode: str, login: Login, group: str
) -> None:
    """The web and certification logins store manual readings (new, duplicate, conflict as
    for any writer, on a compressed hypertable too) through the owner's
    pts_write_manual_readings (019); a gateway or DAS reading is refused, written directly or
    handed to that function, and nothing of it is stored."""
    seed(fresh_db)
    url = on(fresh_db, login(group))
    refusals: list[str] = []
    with psycopg.connect(url) as conn:
        first = write_readings(conn, [_reading(Source.MANUAL, 2_000_000)])
        conn.commit()
        with psycopg.connect(fresh_db, autocommit=True) as owner:
            _compress_readings(owner, storage_mode)
        again = write_readings(conn, [_reading(Source.MANUAL, 2_000_000)])
        other = write_readings(conn, [_reading(Source.MANUAL, 2_100_000)])
        conn.commit()
        for source in (Source.GATEWAY, Source.DAS):
            try:
                write_readings(conn, [_reading(source, 5_000_000, hour=13)])
            except psycopg.errors.InsufficientPrivilege as exc:
                refusals.append(str(exc.diag.message_primary))
            conn.rollback()
        row = reading_to_row(_reading(Source.GATEWAY, 5_000_000, hour=14))
        forged = json.dumps([dict(zip(COLUMNS, row, strict=True))], default=str)
        try:
            conn.execute("SELECT * FROM pts_write_manual_readings(%s::jsonb)", (forged,))
        except psycopg.errors.InsufficientPrivilege as exc:
            refusals.append(f"{exc.diag.message_primary} | {exc.diag.message_hint}")
        conn.rollback()
    with psycopg.connect(fresh_db) as conn:
        stored = conn.execute("SELECT meter_id, energy_wh, source FROM readings").fetchall()
        conflicts = conn.execute("SELECT energy_wh, source FROM reading_conflicts").fetchall()
    assert [(r.new, r.duplicate, r.conflict) for r in (first, again, other)] == [
        (1, 0, 0),
        (0, 1, 0),
        (0, 0, 1),
    ]
    assert (stored, conflicts) == ([("M1", 2_000_000, "manual")], [(2_100_000, "manual")])
    assert refusals == [
        "permission denied for table readings",
        "permission denied for table readings",
        "only manual readings may be written through pts_write_manual_readings: meter M1 "
        "at 2026-03-02 14:00:00+00 has source 'gateway'"
        " | gateway and DAS readings are written by the stream worker's login (pts_stream)",
    ]
    assert (
        refused(
            url,
            [
                "INSERT INTO readings (meter_id, ts, energy_wh, source, source_id, seq, "
                "received_at, content_hash) VALUES ('M1', now(), 1, 'manual', 'rep-1', 1, "
                "now(), 'x')",
                "INSERT INTO reading_conflicts (meter_id, ts, energy_wh, source, source_id, "
                "seq, received_at, content_hash, existing_hash) VALUES ('M1', now(), 1, "
                "'gateway', 'g', 1, now(), 'x', 'y')",
                "INSERT INTO reading_sequence_anomalies SELECT * FROM reading_sequence_anomalies",
            ],
        )
        == []
    )


def test_analyst_role_reads_views_only(fresh_db: str, login: Login) -> None:
    """Analysts (003) read the views and nothing else."""
    url = on(fresh_db, login("pts_analyst"))
    with psycopg.connect(url) as conn:
        months = conn.execute("SELECT count(*) FROM analyst_system_monthly").fetchone()
    assert months == (0,)
    assert refused(url, [*READINGS_WRITES, "SELECT * FROM readings", "SELECT * FROM meters"]) == []


def test_every_table_has_a_grant_decision(fresh_db: str) -> None:
    """A table or view no service role may use is listed as the owner's alone; a new table
    added without deciding its grants fails here (grant it in its migration, as 015 does)."""
    owner_only = {
        "pts_storage_history",
        "pts_schema_migrations",
        "reading_row",
        "das_mqtt_passwords",
        "pts_stale_months",
        "meter_month_cagg",
    }
    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
              AND NOT c.relispartition
              AND NOT EXISTS (
                  SELECT 1 FROM unnest(ARRAY['pts_stream', 'pts_intake', 'pts_web',
                                             'pts_certify', 'pts_analyst']) r
                  WHERE has_table_privilege(r, c.oid, 'SELECT, INSERT, UPDATE'))
            ORDER BY 1
            """
        ).fetchall()
    assert {r[0] for r in rows} - owner_only == set()


def test_service_database_url_falls_back_to_the_owner() -> None:
    """Each service's own URL when set, else database_url."""
    settings = Settings(
        database_url="postgresql://pts@h/pts", web_database_url="postgresql://w@h/pts"
    )
    assert [service_database_url(settings, s) for s in ("stream", "web")] == [
        "postgresql://pts@h/pts",
        "postgresql://w@h/pts",
    ]


def test_das_intake_looks_keys_up_with_its_own_login(
    fresh_db: str, login: Login, clock: Clock
) -> None:
    """The web service's DAS intake opens its pool with PTS_INTAKE_DATABASE_URL: with the
    owner's URL pointing nowhere, a made-up key is still looked up and answered 401."""
    seed(fresh_db)
    nowhere = psycopg.conninfo.make_conninfo(fresh_db, dbname="no_such_database")
    app = make_app(
        nowhere,
        clock,
        web_database_url=on(fresh_db, login("pts_web")),
        intake_database_url=on(fresh_db, login("pts_intake")),
    )
    with TestClient(app, follow_redirects=False) as client:
        answer = client.post(
            "/api/v1/das/reports",
            content=b'{"systems": []}',
            headers={"X-API-Key": "pts_made-up", "Content-Type": "application/json"},
        )
    assert (answer.status_code, answer.json()["code"]) == (401, "unknown_api_key")


@pytest.mark.parametrize("service", ["stream", "intake", "web", "certify"])
def test_local_service_logins_connect_through_their_passfile(
    pg_admin_url: str, service: str
) -> None:
    """deploy/local/postgres.sh made one login per service; `url SERVICE` names it with the
    password file (no password in the URL), and it is a member of its group role only."""
    root = Path(__file__).resolve().parents[3]
    env = {
        **os.environ,
        "PTS_PG_PORT": str(psycopg.conninfo.conninfo_to_dict(pg_admin_url)["port"]),
    }
    url = subprocess.run(
        ["bash", str(root / "deploy" / "local" / "postgres.sh"), "url", service],
        capture_output=True, text=True, check=True, env=env,
    ).stdout.strip()  # fmt: skip
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT current_user, array_agg(b.rolname ORDER BY b.rolname) FROM pg_auth_members m "
            "JOIN pg_roles b ON b.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
            "WHERE u.rolname = current_user GROUP BY 1"
        ).fetchone()
    assert "password" not in psycopg.conninfo.conninfo_to_dict(url)
    assert row == (f"pts_{service}_login", [f"pts_{service}"])


# one row of each rollup per meter (March 2026); {m} is the meter
_ROLLUP_ROWS = [
    "INSERT INTO meter_interval_energy (meter_id, interval_start, interval_end, energy_wh) "
    "VALUES ('{m}', '2026-03-02 12:00Z', '2026-03-02 12:15Z', 100)",
    "INSERT INTO meter_day_energy (meter_id, day, energy_wh, intervals) "
    "VALUES ('{m}', '2026-03-02', 100, 1)",
    "INSERT INTO meter_month_energy (meter_id, month, energy_wh, days) "
    "VALUES ('{m}', '2026-03-01', 100, 1)",
]
_ROLLUP_WRITES = [
    "INSERT INTO meter_interval_energy (meter_id, interval_start, interval_end, energy_wh) "
    "VALUES ('{m}', '2026-03-02 12:15Z', '2026-03-02 12:30Z', 9)",
    "UPDATE meter_interval_energy SET energy_wh = 9 WHERE meter_id = '{m}'",
    "DELETE FROM meter_interval_energy WHERE meter_id = '{m}'",
    "INSERT INTO meter_day_energy (meter_id, day, energy_wh, intervals) "
    "VALUES ('{m}', '2026-03-03', 9, 1)",
    "UPDATE meter_day_energy SET energy_wh = 9 WHERE meter_id = '{m}'",
    "DELETE FROM meter_day_energy WHERE meter_id = '{m}'",
    "INSERT INTO meter_month_energy (meter_id, month, energy_wh, days) "
    "VALUES ('{m}', '2026-04-01', 9, 1)",
    "UPDATE meter_month_energy SET energy_wh = 9 WHERE meter_id = '{m}'",
    "DELETE FROM meter_month_energy WHERE meter_id = '{m}'",
]


def _allowed(url: str, statements: list[str]) -> list[str]:
    """The verbs (INSERT/UPDATE/DELETE and table) of the statements `url` may run (each
    rolled back, so every statement meets the same rows)."""
    allowed = []
    with psycopg.connect(url) as conn:
        for statement in statements:
            try:
                conn.execute(statement.encode())
            except psycopg.errors.InsufficientPrivilege:
                conn.rollback()
                continue
            conn.rollback()
            words = statement.split()
            allowed.append(f"{words[0]} {words[2] if words[0] != 'UPDATE' else words[1]}")
    return allowed


@pytest.mark.parametrize("group", ["pts_web", "pts_certify", "pts_stream"])
def test_rollups_of_automatic_meters_are_the_streams_alone(
    fresh_db: str, storage_mode: str, login: Login, group: str
) -> None:
    """Interval, day and month energy (022): the stream writes any meter's rows but deletes
    none; the web and certification logins write and delete only the rows of meters of
    manually reporting systems (a manual report or withdrawal recomputes them), never those
    of an automatically reported meter — on a compressed hypertable too."""
    seed(fresh_db)  # M1 on S1 reports manually, M3 on S3 automatically
    with psycopg.connect(fresh_db, autocommit=True) as owner:
        for meter in ("M1", "M3"):
            for row in _ROLLUP_ROWS:
                owner.execute(row.format(m=meter).encode())
        if storage_mode == "timescale":
            owner.execute("SELECT compress_chunk(c, if_not_compressed => true) "
                          "FROM show_chunks('meter_interval_energy') c")  # fmt: skip
    url = on(fresh_db, login(group))
    every = [
        "INSERT meter_interval_energy", "UPDATE meter_interval_energy",
        "DELETE meter_interval_energy", "INSERT meter_day_energy", "UPDATE meter_day_energy",
        "DELETE meter_day_energy", "INSERT meter_month_energy", "UPDATE meter_month_energy",
        "DELETE meter_month_energy",
    ]  # fmt: skip
    no_delete = [w for w in every if not w.startswith("DELETE")]
    got = {m: _allowed(url, [s.format(m=m) for s in _ROLLUP_WRITES]) for m in ("M1", "M3")}
    if group == "pts_stream":
        assert got == {"M1": no_delete, "M3": no_delete}
    else:
        assert got == {"M1": every, "M3": []}


def test_the_stream_login_stores_no_manual_reading(fresh_db: str, login: Login) -> None:
    """The stream's login stores gateway and DAS readings; a manual or audit reading (or
    conflict) written on it is refused (022): those come from the web and certification
    logins, through pts_write_manual_readings."""
    seed(fresh_db)
    url = on(fresh_db, login("pts_stream"))
    with psycopg.connect(fresh_db, autocommit=True) as owner:
        owner.execute("SELECT pts_ensure_reading_partition('2026-03-02 12:00Z')")
    values = "('M3', '2026-03-02 12:00Z', 1, '{s}', 'x', 1, now(), 'h', 'e')"
    statements = [
        "INSERT INTO readings (meter_id, ts, energy_wh, source, source_id, seq, received_at, "
        "content_hash) VALUES " + values.replace(", 'e')", ")"),
        "INSERT INTO reading_conflicts (meter_id, ts, energy_wh, source, source_id, seq, "
        "received_at, content_hash, existing_hash) VALUES " + values,
    ]
    got = _allowed(url, [s.format(s=src) for src in Source for s in statements])
    assert got == ["INSERT readings", "INSERT reading_conflicts"] * 2


async def test_web_role_closes_a_month_the_stream_role_stored(
    fresh_db: str, login: Login, clock: Clock
) -> None:
    """The real paths on their own logins after 022: the stream's login stores a DAS
    system's September (its energy rows included), then the web's login closes September
    for every system from the admin page; the close counts exactly what the stream stored."""
    from stream.inprocess import InProcessEngine

    seed(fresh_db)  # S3 / M3 reports automatically through provider sunny
    first, last = datetime(2026, 8, 31, 4, tzinfo=UTC), datetime(2026, 10, 1, 8, tzinfo=UTC)
    series = solar_series(
        "M3", first, last, step=timedelta(hours=1), seed=5, modulus=None, source_id="sunny"
    )
    stream_url = on(fresh_db, login("pts_stream"))
    async with await InProcessEngine.connect(stream_url, clock=lambda: IN_WINDOW) as engine:
        for batch in daily_batches(series):
            await engine.submit(batch_bytes(batch, source_id="sunny"))
    app = make_app(
        psycopg.conninfo.make_conninfo(fresh_db, dbname="no_such_database"),
        clock,
        web_database_url=on(fresh_db, login("pts_web")),
    )
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, ADMIN)
        page = client.get("/admin")
        closed = client.post(
            "/admin/month-close", data={"month": "2026-09", "csrf_token": csrf_of(page.text)}
        )
    with psycopg.connect(fresh_db) as conn:
        month = monthly_totals(conn)[("M3", "2026-09")]
        close = conn.execute(
            "SELECT energy_wh FROM month_closes WHERE system_id = 'S3' AND month = '2026-09'"
        ).fetchone()
    sept = (datetime(2026, 9, 1, 4, tzinfo=UTC), datetime(2026, 10, 1, 4, tzinfo=UTC))
    assert (closed.status_code, closed.headers["location"].split("&")[0]) == (
        303,
        "/admin?closed=2026-09",
    )
    assert (month, close) == (series.truth(*sept), (series.truth(*sept),))
