"""Readings refused for an unregistered meter are stored once the meter is registered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from click.testing import CliRunner

from pts.cli import cli
from storage.energy_store import monthly_totals
from stream.errors import ReasonCode
from stream.inprocess import InProcessEngine
from stream.redrive import redrive
from stream.status import dead_letters_waiting
from tests.support import (
    APR,
    MAR,
    batch_bytes,
    daily_batches,
    register_fleet,
    solar_series,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, tzinfo=UTC)


def pending(db: str) -> list[tuple[str, str | None, str | None]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT source_topic, redriven_at::text, redrive_result FROM dead_letters ORDER BY id"
        ).fetchall()
    return [(r[0], r[1] and "marked", r[2]) for r in rows]


async def waiting(db: str) -> dict[str, int]:
    async with await psycopg.AsyncConnection.connect(db) as aconn:
        return await dead_letters_waiting(aconn)


async def test_unknown_meter_readings_are_redriven_after_registration(fresh_db: str) -> None:
    """M2 reports three days across the DST change before it is registered: every reading is
    refused and kept. A re-drive before registration refuses them again (kept, marked); after
    registration the re-drive stores them all and M2's March equals the truth; a third run
    finds nothing."""
    first, last = datetime(2026, 3, 7, 5, tzinfo=UTC), datetime(2026, 3, 10, 5, tzinfo=UTC)
    known, late = solar_series("M1", first, last, seed=1), solar_series("M2", first, last, seed=2)
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["M1"])
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        for n, batch in enumerate(daily_batches(known) + daily_batches(late)):
            await engine.submit(batch_bytes(batch), offset=n)
    refused = len(late.readings)
    assert pending(fresh_db) == [("inprocess", None, None)] * refused
    assert await waiting(fresh_db) == {"unknown_meter": refused}

    early = await redrive(fresh_db, ReasonCode.UNKNOWN_METER, NOW)
    assert early.summary() == f"re-drove {refused} unknown_meter: {refused} rejected: unknown_meter"
    assert (
        pending(fresh_db)
        == [("inprocess", "marked", "rejected: unknown_meter")] * refused
        + [("redrive", None, None)] * refused
    )

    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["M2"])
    command = ["stream", "redrive", "--reason", "unknown_meter", "--meter", "M2"]
    result = await asyncio.to_thread(  # the command runs its own event loop
        CliRunner().invoke, cli, command, env={"PTS_DATABASE_URL": fresh_db}
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"re-drove {refused} unknown_meter: {refused} stored"
    with psycopg.connect(fresh_db) as conn:
        totals = monthly_totals(conn)
    assert totals[("M2", "2026-03")] == late.truth(MAR, APR)
    assert totals[("M1", "2026-03")] == known.truth(MAR, APR)

    again = await redrive(fresh_db, ReasonCode.UNKNOWN_METER, NOW)
    assert again.summary() == "no unknown_meter dead letters waiting"
    assert await waiting(fresh_db) == {}


async def test_payload_defects_are_not_redriven(fresh_db: str) -> None:
    """Malformed JSON cannot become valid by re-driving: refused with the reason."""
    with pytest.raises(ValueError, match="malformed_json is a defect of the payload itself"):
        await redrive(fresh_db, ReasonCode.MALFORMED_JSON, NOW)
