"""The batch writer against the real PostgreSQL: idempotent, counts exact, conflicts kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from schemas import Reading, Source
from storage.writer import write_readings, write_readings_async

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


def monthly_register_totals(conn: psycopg.Connection[Any]) -> list[tuple[str, str, int]]:
    return [
        (r[0], r[1], int(r[2]))
        for r in conn.execute(
            "SELECT meter_id, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM'), "
            "max(energy_wh) - min(energy_wh) FROM readings GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    ]


def test_redelivering_a_batch_three_times_changes_nothing(fresh_db: str) -> None:
    """The same batch written 4 times stores each reading once; later writes are duplicates."""
    batch = make_readings(meters=3, steps=40)
    with psycopg.connect(fresh_db) as conn:
        first = write_readings(conn, batch)
        totals = monthly_register_totals(conn)
        again = [write_readings(conn, batch) for _ in range(3)]
        count = conn.execute("SELECT count(*) FROM readings").fetchone()
        assert monthly_register_totals(conn) == totals
    assert (first.new, first.duplicate, first.conflict) == (120, 0, 0)
    assert len(first.new_readings) == 120
    assert [(r.new, r.duplicate, r.conflict) for r in again] == [(0, 120, 0)] * 3
    assert count == (120,)
    # 16 readings on Oct 31 (20:00..23:45 UTC), 24 in November, 250 Wh apart
    assert totals == [
        ("m0", "2026-10", 3750), ("m0", "2026-11", 5750),
        ("m1", "2026-10", 3750), ("m1", "2026-11", 5750),
        ("m2", "2026-10", 3750), ("m2", "2026-11", 5750),
    ]  # fmt: skip


def test_same_key_other_content_is_a_conflict_kept_once(fresh_db: str) -> None:
    """A repeat of (meter_id, ts) with another value is recorded once, never overwrites."""
    original = make_readings(meters=1, steps=4)
    altered = original[2].model_copy(update={"energy_wh": 9, "content_hash": ""})
    altered = Reading.model_validate(altered.model_dump())
    with psycopg.connect(fresh_db) as conn:
        write_readings(conn, original)
        first = write_readings(conn, [altered, original[3]])
        second = write_readings(conn, [altered])
        stored = conn.execute(
            "SELECT energy_wh FROM readings WHERE meter_id = 'm0' ORDER BY ts"
        ).fetchall()
        conflicts = conn.execute(
            "SELECT meter_id, energy_wh, existing_hash FROM reading_conflicts"
        ).fetchall()
    assert (first.new, first.duplicate, first.conflict) == (0, 1, 1)
    assert (second.new, second.duplicate, second.conflict) == (0, 0, 1)
    assert [r[0] for r in stored] == [1_000_000, 1_000_250, 1_000_500, 1_000_750]
    assert conflicts == [("m0", 9, original[2].content_hash)]


def test_within_one_batch_the_first_row_for_a_key_wins(fresh_db: str) -> None:
    """Two rows for one key in one batch: the first is stored, the other is a conflict."""
    base = make_readings(meters=1, steps=1)[0]
    other = Reading.model_validate({**base.model_dump(), "energy_wh": 5, "content_hash": ""})
    with psycopg.connect(fresh_db) as conn:
        result = write_readings(conn, [base, base, other])
        stored = conn.execute("SELECT energy_wh FROM readings").fetchall()
    assert (result.new, result.duplicate, result.conflict) == (1, 1, 1)
    assert result.new_readings == [base]
    assert stored == [(1_000_000,)]


async def test_async_writer_matches_sync(fresh_db: str) -> None:
    """The async twin stores and counts the same way."""
    batch = make_readings(meters=2, steps=10)
    async with await psycopg.AsyncConnection.connect(fresh_db) as aconn:
        first = await write_readings_async(aconn, batch)
        second = await write_readings_async(aconn, batch[:5])
    assert (first.new, first.duplicate, first.conflict) == (20, 0, 0)
    assert (second.new, second.duplicate, second.conflict) == (0, 5, 0)


def test_batch_mixing_stored_and_new_rows_counts_each(fresh_db: str) -> None:
    """A batch that is half redelivery, half new: the fast path backs off, nothing is lost."""
    batch = make_readings(meters=1, steps=10)
    with psycopg.connect(fresh_db) as conn:
        write_readings(conn, batch[:5])
        mixed = write_readings(conn, batch[3:])
        count = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert (mixed.new, mixed.duplicate, mixed.conflict) == (5, 2, 0)
    assert mixed.new_readings == batch[5:]
    assert count == (10,)
