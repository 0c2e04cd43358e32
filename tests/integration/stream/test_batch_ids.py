"""Batch ids (issue 14 item 11): a batch whose id was already stored with other content is
recognised and recorded (a `batch_id_reused` provenance finding), not silently stored as new;
a redelivery of the same batch and the parts of a batch the bridge split are not findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from schemas.reading import Reading, ReadingBatch, Source
from stream.inprocess import InProcessEngine
from tests.support import register_fleet

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, tzinfo=UTC)
T0 = datetime(2026, 3, 10, 15, tzinfo=UTC)


def batch(batch_id: str, minutes_and_seqs: list[tuple[int, int]], base_wh: int = 1_000) -> bytes:
    readings = tuple(
        Reading(
            meter_id="B1", ts=T0 + timedelta(minutes=m), energy_wh=base_wh + 10 * m,
            source=Source.DAS, source_id="das-a", seq=seq, received_at=T0 + timedelta(minutes=m),
        )
        for m, seq in minutes_and_seqs
    )  # fmt: skip
    return (
        ReadingBatch(
            batch_id=batch_id, source=Source.DAS, source_id="das-a", sent_at=NOW,
            readings=readings,
        )
        .model_dump_json()
        .encode()
    )  # fmt: skip


def findings(db: str) -> list[tuple[str, str, str, str, datetime, datetime]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT kind, source_id, batch_id, meter_id, first_ts, last_ts "
            "FROM provenance_findings ORDER BY id"
        ).fetchall()
    return [tuple(r) for r in rows]


async def test_a_batch_id_reused_with_other_readings_is_recorded(fresh_db: str) -> None:
    """Batch b-1 (seq 1-3) comes twice (a redelivery: nothing to record), then again with the
    same id and seq numbers but new timestamps (a replay): its readings are stored, and one
    batch_id_reused finding names the batch, the meter and the times it carried."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["B1"])
    first = batch("b-1", [(0, 1), (15, 2), (30, 3)])
    replay = batch("b-1", [(60, 1), (75, 2), (90, 3)])
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        await engine.submit(first)
        again = await engine.submit(first)
        reused = await engine.submit(replay)
    assert (again.new, again.duplicate) == (0, 3)
    assert (reused.new, reused.rejects) == (3, [])
    assert findings(fresh_db) == [
        (
            "batch_id_reused", "das-a", "b-1", "B1",
            T0 + timedelta(minutes=60), T0 + timedelta(minutes=90),
        )
    ]  # fmt: skip
    with psycopg.connect(fresh_db) as conn:
        detail = conn.execute("SELECT detail FROM provenance_findings").fetchone()
    assert detail is not None
    assert "already stored" in detail[0]


async def test_the_parts_of_a_split_batch_are_not_a_reuse(fresh_db: str) -> None:
    """The bridge splits a large batch into parts with the same batch id and disjoint
    sequence numbers: every part is stored and nothing is recorded."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["B1"])
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        one = await engine.submit(batch("b-2", [(0, 1), (15, 2)]))
        two = await engine.submit(batch("b-2", [(30, 3), (45, 4)]))
        two_again = await engine.submit(batch("b-2", [(30, 3), (45, 4)]))
    assert (one.new, two.new, two_again.duplicate) == (2, 2, 2)
    assert findings(fresh_db) == []
