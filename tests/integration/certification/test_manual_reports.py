"""Manual reports against the real PostgreSQL: the month a report is filed under, reading
times without an offset, dial rollovers, and the rollups a manual reading keeps current."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner

from certification.manual_reports import ManualReport
from certification.roles import Account, Role
from certification.workflows.close_month import close_month
from certification.workflows.load_registry import load_registry
from certification.workflows.submit_report import submit_manual_report
from pts.cli import cli
from tests.integration.certification.registry_docs import manual_registry
from tests.integration.web.support import api_token, bootstrap_admin

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")
ADMIN = Account("staff-1", Role.ADMIN)
TEN = Decimal(10)
REGISTRY = manual_registry()


def loaded(url: str, registry: dict[str, Any] = REGISTRY) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url)
    load_registry(conn, registry, TEN)
    conn.commit()
    return conn


def run(url: str, *args: str, token: str = "") -> tuple[int, str, str]:
    """`pts ARGS`; a person acts with their API token (PTS_TOKEN), admins as operators."""
    env = {"PTS_DATABASE_URL": url, "PTS_TOKEN": token}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_report_is_filed_under_the_window_month(fresh_db: str) -> None:
    """A reading taken Nov 3 inside October's window is filed under 2026-10."""
    now = datetime(2026, 11, 4, 15, tzinfo=UTC)
    with loaded(fresh_db) as conn:
        read_at = datetime(2026, 11, 3, 12, tzinfo=NY)
        submit_manual_report(conn, "rep-1", ManualReport("M1", 5_000_000, read_at), now, TEN)
        rows = conn.execute("SELECT ts, month FROM manual_reports").fetchall()
    assert rows == [(datetime(2026, 11, 3, 17, tzinfo=UTC), "2026-10")]


def test_report_time_without_offset_is_local(fresh_db: str, tmp_path: Path) -> None:
    """`--at 2027-01-05` is noon local (EST: 17:00 UTC); a naive date-time is local too; a
    time that is no date is refused with the forms accepted."""
    registry = tmp_path / "registry.yaml"
    registry.write_text(__import__("yaml").safe_dump(REGISTRY))
    bootstrap_admin(fresh_db, "staff-1")  # pts accounts create-admin, on the server
    assert run(fresh_db, "registry", "load", str(registry), "--as", "staff-1")[0] == 0
    rep = api_token(fresh_db, "rep-1")
    common = ("report", "submit", "--meter", "M1")
    date_only = run(
        fresh_db,
        *common,
        "--register-wh",
        "1000000",
        "--at",
        "2027-01-05",
        "--now",
        "2027-01-05T20:00:00+00:00",
        token=rep,
    )
    naive = run(
        fresh_db,
        *common,
        "--register-wh",
        "1010000",
        "--at",
        "2027-01-05T16:30",
        "--now",
        "2027-01-05T22:00:00+00:00",
        token=rep,
    )
    wrong = run(
        fresh_db,
        *common,
        "--register-wh",
        "1020000",
        "--at",
        "01/05/2027",
        "--now",
        "2027-01-05T22:00:00+00:00",
        token=rep,
    )
    assert date_only[:2] == (0, "accepted M1 1000000 Wh at 2027-01-05T12:00:00-05:00\n")
    assert naive[:2] == (0, "accepted M1 1010000 Wh at 2027-01-05T16:30:00-05:00\n")
    assert wrong[0] == 2
    assert (
        "'01/05/2027' is not a reading time: give a date (2027-01-05, read as noon in the "
        "system's time zone), a local date and time (2027-01-05T09:30) or a time with its "
        "offset (2027-01-05T09:30-05:00)" in wrong[2]
    )
    with psycopg.connect(fresh_db) as conn:
        stored = conn.execute("SELECT ts FROM readings ORDER BY ts").fetchall()
    assert stored == [
        (datetime(2027, 1, 5, 17, tzinfo=UTC),),
        (datetime(2027, 1, 5, 21, 30, tzinfo=UTC),),
    ]


def test_manual_readings_keep_the_rollups_current(fresh_db: str) -> None:
    """Manual reports at the end of June, July and August (20:00 EDT) land in the daily and
    monthly rollups, and July's rollup equals the energy month close certifies: 740 of the
    744 h of 1,240,000 Wh (4 h, 6,666 Wh, are June's) plus 4 of the 744 h of the next
    1,200,000 Wh (6,451 Wh): 1,239,785 Wh; August keeps the rest, 1,193,549 Wh."""
    reports = [
        (1_000_000, datetime(2026, 6, 30, 20, tzinfo=NY)),
        (2_240_000, datetime(2026, 7, 31, 20, tzinfo=NY)),
        (3_440_000, datetime(2026, 8, 31, 20, tzinfo=NY)),
    ]
    with loaded(fresh_db) as conn:
        for wh, at in reports:
            submit_manual_report(conn, "rep-1", ManualReport("M1", wh, at), at, TEN)
        conn.commit()
        months = conn.execute(
            "SELECT to_char(month, 'YYYY-MM'), energy_wh FROM meter_month_energy "
            "WHERE meter_id = 'M1' ORDER BY month"
        ).fetchall()
        days = conn.execute(
            "SELECT count(*), sum(energy_wh) FROM meter_day_energy WHERE meter_id = 'M1'"
        ).fetchone()
        closed = close_month(conn, "2026-07", ADMIN, datetime(2026, 8, 6, 5, tzinfo=UTC))
    (july,) = closed.systems
    assert months == [("2026-06", 6_666), ("2026-07", 1_239_785), ("2026-08", 1_193_549)]
    assert days == (63, 2_440_000)
    assert july.energy_wh == 1_239_785
