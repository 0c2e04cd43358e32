"""The registry directory reloads, at most every few seconds, when a meter is unknown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest

from schemas.reading import ReadingBatch
from stream.inprocess import InProcessEngine
from stream.registry_directory import MeterInfo, RegistryDirectory
from tests.support import batch_bytes, register_fleet, solar_series

pytestmark = pytest.mark.integration


async def test_a_meter_registered_later_is_found_after_the_min_interval(fresh_db: str) -> None:
    """Unknown at first; registered; found on the next ask once min_interval has passed."""
    now = [100.0]
    directory = RegistryDirectory(min_interval=5.0, clock=lambda: now[0])
    async with await psycopg.AsyncConnection.connect(fresh_db, autocommit=True) as aconn:
        await directory.refresh_for(aconn, {"L1"})
        assert directory.get("L1") is None
        with psycopg.connect(fresh_db) as conn:
            register_fleet(conn, ["L1"])
        now[0] = 104.0
        await directory.refresh_for(aconn, {"L1"})
        assert directory.get("L1") is None  # too soon to reload
        now[0] = 105.0
        await directory.refresh_for(aconn, {"L1"})
    assert directory.get("L1") == MeterInfo(
        "L1", "S-L1", "America/New_York", Decimal("50.000"), 2**32, "das-a"
    )


async def test_engine_run_processes_an_async_stream_in_order(fresh_db: str) -> None:
    """`run` consumes bytes and ReadingBatch objects until the iterable ends; totals add up."""
    s = solar_series("R1", datetime(2026, 3, 2, 5, tzinfo=UTC), datetime(2026, 3, 2, 9, tzinfo=UTC))
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["R1"])

    async def messages() -> AsyncIterator[bytes | ReadingBatch]:
        yield batch_bytes(s.readings[:10])
        yield ReadingBatch.model_validate_json(batch_bytes(s.readings[5:]))  # an object
        yield b"nope"

    async with await InProcessEngine.connect(fresh_db) as engine:
        totals = await engine.run(messages())
    assert (totals.messages, totals.new, totals.duplicate, totals.rejected) == (3, 17, 5, 1)
