"""`pts db load` against the real PostgreSQL: loaded readings reach the rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from certification.workflows.load_registry import load_registry
from pts.cli import cli
from schemas import Reading, ReadingBatch, Source

pytestmark = pytest.mark.integration

REGISTRY = {
    "accounts": [{"account_id": "owner-1", "role": "system_owner"}],
    "approved_meters": [{"model": "ACME-1", "accuracy_class": "2.0"}],
    "systems": [
        {
            "system_id": "S1",
            "owner_id": "owner-1",
            "capacity_kw_dc": "10",
            "reporting_method": "manual",
        }
    ],
    "meters": [
        {
            "meter_id": "M1",
            "system_id": "S1",
            "serial": "X1",
            "model": "ACME-1",
            "accuracy_class": "2.0",
            "installed_on": "2024-01-01",
        }
    ],
}


def test_db_load_keeps_the_rollups_current(fresh_db: str, tmp_path: Path) -> None:
    """Hourly readings from Jul 1 00:00 to Jul 3 00:00 EDT, 1,000 Wh an hour, loaded from a
    file: two local days of 24,000 Wh and July at 48,000 Wh; loading again adds nothing."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, REGISTRY, Decimal(10))
    start = datetime(2026, 7, 1, 4, tzinfo=UTC)  # midnight EDT
    readings = tuple(
        Reading(
            meter_id="M1",
            ts=start + timedelta(hours=h),
            energy_wh=5_000_000 + 1_000 * h,
            source=Source.GATEWAY,
            source_id="gw-1",
            seq=h,
            received_at=start + timedelta(hours=h),
        )
        for h in range(49)
    )
    batch = ReadingBatch(
        batch_id="b1", source=Source.GATEWAY, source_id="gw-1", sent_at=start, readings=readings
    )
    path = tmp_path / "batches.jsonl"
    path.write_text(batch.model_dump_json() + "\n")
    env = {"PTS_DATABASE_URL": fresh_db}
    first = CliRunner().invoke(cli, ["db", "load", str(path)], env=env)
    again = CliRunner().invoke(cli, ["db", "load", str(path)], env=env)
    with psycopg.connect(fresh_db) as conn:
        days = conn.execute(
            "SELECT day::text, energy_wh FROM meter_day_energy WHERE meter_id = 'M1' ORDER BY day"
        ).fetchall()
        months = conn.execute(
            "SELECT to_char(month, 'YYYY-MM'), energy_wh FROM meter_month_energy"
        ).fetchall()
    assert (first.exit_code, first.stdout) == (0, "new 49, duplicate 0, conflict 0\n")
    assert (again.exit_code, again.stdout) == (0, "new 0, duplicate 49, conflict 0\n")
    assert days == [("2026-07-01", 24_000), ("2026-07-02", 24_000)]
    assert months == [("2026-07", 48_000)]
