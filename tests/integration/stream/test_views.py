"""Analyst views and the read-only role on the real PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from stream.inprocess import InProcessEngine
from tests.support import (
    APR,
    END,
    MAR,
    START,
    batch_bytes,
    daily_batches,
    register_fleet,
    solar_series,
)

pytestmark = pytest.mark.integration


async def test_views_show_local_months_per_meter_and_system_to_the_analyst(fresh_db: str) -> None:
    """pts_analyst reads the monthly views (meter and system agree) and nothing else."""
    series = [solar_series(f"V{i}", START, END, seed=60 + i) for i in range(2)]
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, [s.meter_id for s in series])
        conn.execute("UPDATE meters SET system_id = 'S-V0' WHERE meter_id = 'V1'")
    async with await InProcessEngine.connect(fresh_db, clock=lambda: END) as engine:
        for s in series:
            for batch in daily_batches(s):
                await engine.submit(batch_bytes(batch))
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("SET ROLE pts_analyst")
        meters = conn.execute(
            "SELECT meter_id, energy_wh, mwh FROM analyst_meter_monthly "
            "WHERE month = '2026-03' ORDER BY meter_id"
        ).fetchall()
        system = conn.execute(
            "SELECT system_id, energy_wh, meters FROM analyst_system_monthly "
            "WHERE month = '2026-03'"
        ).fetchall()
        days = conn.execute(
            "SELECT count(*), sum(energy_wh) FROM analyst_system_daily "
            "WHERE day >= '2026-03-01' AND day < '2026-04-01'"
        ).fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM readings")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM meter_month_energy")
    truth = [s.truth(MAR, APR) for s in series]
    assert meters == [
        ("V0", truth[0], round(Decimal(truth[0]) / 1_000_000, 3)),
        ("V1", truth[1], round(Decimal(truth[1]) / 1_000_000, 3)),
    ]
    assert system == [("S-V0", sum(truth), 2)]
    assert days == (31, sum(truth))
