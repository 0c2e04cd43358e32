"""The batch writer against the real PostgreSQL: idempotent, counts exact, conflicts kept.

Every case runs through both runners of the one writer (storage.writer): on a sync
connection (`write_readings`) and on an async one (`write_readings_async`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from schemas import Reading, Source
from storage.writer import WriteResult, write_readings, write_readings_async

pytestmark = pytest.mark.integration

T0 = datetime(2026, 10, 31, 20, 0, tzinfo=UTC)  # crosses into November (two partitions)


def make_readings(meters: int, steps: int, step_wh: int = 250) -> list[Reading]:
    out = []
    for m in range(meters):
        for i in range(steps):
            ts = T0 + timedelta(minutes=15 * i)
            out.append(
                Reading(
                    meter_id=f"m{m}",
                    ts=ts,
                    energy_wh=1_000_000 + i * step_wh,
                    source=Source.GATEWAY,
                    source_id="gw1",
                    seq=m * steps + i,
                    received_at=ts,
                    raw_words=(i % 65536, 0),
                )
            )
    return out


class Store:
    """One connection to the test database, written to by the sync or the async runner;
    `query` reads on the same connection (inside its transaction)."""

    def __init__(self, url: str, runner: str) -> None:
        self.runner = runner
        self._loop = asyncio.new_event_loop()
        self._conn: psycopg.Connection[Any] | None = None
        self._aconn: psycopg.AsyncConnection[Any] | None = None
        if runner == "sync":
            self._conn = psycopg.connect(url)
        else:
            self._aconn = self._loop.run_until_complete(psycopg.AsyncConnection.connect(url))

    def write(self, readings: Sequence[Reading]) -> WriteResult:
        if self._conn is not None:
            return write_readings(self._conn, readings)
        assert self._aconn is not None
        return self._loop.run_until_complete(write_readings_async(self._aconn, readings))

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self._conn is not None:
            return self._conn.execute(sql).fetchall()
        assert self._aconn is not None
        aconn = self._aconn

        async def fetch() -> list[tuple[Any, ...]]:
            cur = await aconn.execute(sql)
            return await cur.fetchall()

        return self._loop.run_until_complete(fetch())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._aconn is not None:
            self._loop.run_until_complete(self._aconn.close())
        self._loop.close()


@pytest.fixture(params=["sync", "async"])
def store(request: pytest.FixtureRequest, fresh_db: str) -> Iterator[Store]:
    opened = Store(fresh_db, request.param)
    try:
        yield opened
    finally:
        opened.close()


def monthly_register_totals(store: Store) -> list[tuple[str, str, int]]:
    return [
        (r[0], r[1], int(r[2]))
        for r in store.query(
            "SELECT meter_id, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM'), "
            "max(energy_wh) - min(energy_wh) FROM readings GROUP BY 1, 2 ORDER BY 1, 2"
        )
    ]


def test_redelivering_a_batch_three_times_changes_nothing(store: Store) -> None:
    """The same batch written 4 times stores each reading once; later writes are duplicates."""
    batch = make_readings(meters=3, steps=40)
    first = store.write(batch)
    totals = monthly_register_totals(store)
    again = [store.write(batch) for _ in range(3)]
    assert monthly_register_totals(store) == totals
    assert (first.new, first.duplicate, first.conflict) == (120, 0, 0)
    assert len(first.new_readings) == 120
    assert [(r.new, r.duplicate, r.conflict) for r in again] == [(0, 120, 0)] * 3
    assert store.query("SELECT count(*) FROM readings") == [(120,)]
    # 16 readings on Oct 31 (20:00..23:45 UTC), 24 in November, 250 Wh apart
    assert totals == [
        ("m0", "2026-10", 3750), ("m0", "2026-11", 5750),
        ("m1", "2026-10", 3750), ("m1", "2026-11", 5750),
        ("m2", "2026-10", 3750), ("m2", "2026-11", 5750),
    ]  # fmt: skip


def test_same_key_other_content_is_a_conflict_kept_once(store: Store) -> None:
    """A repeat of (meter_id, ts) with another value is recorded once, never overwrites."""
    original = make_readings(meters=1, steps=4)
    altered = original[2].model_copy(update={"energy_wh": 9, "content_hash": ""})
    altered = Reading.model_validate(altered.model_dump())
    store.write(original)
    first = store.write([altered, original[3]])
    second = store.write([altered])
    stored = store.query("SELECT energy_wh FROM readings WHERE meter_id = 'm0' ORDER BY ts")
    conflicts = store.query("SELECT meter_id, energy_wh, existing_hash FROM reading_conflicts")
    assert (first.new, first.duplicate, first.conflict) == (0, 1, 1)
    assert (second.new, second.duplicate, second.conflict) == (0, 0, 1)
    assert [r[0] for r in stored] == [1_000_000, 1_000_250, 1_000_500, 1_000_750]
    assert conflicts == [("m0", 9, original[2].content_hash)]


def test_within_one_batch_the_first_row_for_a_key_wins(store: Store) -> None:
    """Two rows for one key in one batch: the first is stored, the other is a conflict."""
    base = make_readings(meters=1, steps=1)[0]
    other = Reading.model_validate({**base.model_dump(), "energy_wh": 5, "content_hash": ""})
    result = store.write([base, base, other])
    assert (result.new, result.duplicate, result.conflict) == (1, 1, 1)
    assert result.new_readings == [base]
    assert store.query("SELECT energy_wh FROM readings") == [(1_000_000,)]


def test_batch_mixing_stored_and_new_rows_counts_each(store: Store) -> None:
    """A batch that is half redelivery, half new: the fast path backs off, nothing is lost."""
    batch = make_readings(meters=1, steps=10)
    store.write(batch[:5])
    mixed = store.write(batch[3:])
    assert (mixed.new, mixed.duplicate, mixed.conflict) == (5, 2, 0)
    assert mixed.new_readings == batch[5:]
    assert store.query("SELECT count(*) FROM readings") == [(10,)]


def test_an_empty_batch_writes_nothing(store: Store) -> None:
    """No readings: nothing counted, nothing stored."""
    assert store.write([]) == WriteResult(0, 0, 0, [])
    assert store.query("SELECT count(*) FROM readings") == [(0,)]
