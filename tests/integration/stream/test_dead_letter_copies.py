"""A refused message that reaches Kafka twice (a bridge redelivered it after a crash) is one
problem: one dead letter, its copies counted (migration 022), one redrive; a distinct message
with the same refusal stays a dead letter of its own."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from schemas.reading import Reading, Source
from storage.dead_letter_store import record_dead_letters
from stream.errors import ReasonCode
from stream.inprocess import InProcessEngine
from stream.redrive import redrive
from stream.status import dead_letters_waiting
from tests.integration.stream.kafka_support import keyed, produce, wait_all_committed
from tests.integration.stream.test_faust import Fleet, fleet, topics
from tests.support import batch_bytes, register_fleet

pytestmark = pytest.mark.integration
__all__ = ["fleet", "topics"]  # the fixtures, shared with test_faust

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
T0 = NOW - timedelta(hours=2)


def reading(meter_id: str, minutes: int, wh: int) -> Reading:
    at = T0 + timedelta(minutes=minutes)
    return Reading(
        meter_id=meter_id, ts=at, energy_wh=wh, source=Source.DAS, source_id="das-a",
        seq=minutes, received_at=at,
    )  # fmt: skip


def letters(db: str) -> list[tuple[Any, ...]]:
    """(reason_code, copies, redrive_result) per dead letter, in order."""
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT reason_code, 1 + (SELECT count(*) FROM dead_letter_copies c "
            "WHERE c.dead_letter_id = d.id), redrive_result FROM dead_letters d ORDER BY id"
        ).fetchall()


async def test_a_message_delivered_twice_is_one_dead_letter_redriven_once(
    fresh_db: str,
) -> None:
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["M1"])
    twice = batch_bytes([reading("U1", 0, 1_000), reading("U1", 15, 1_500)])
    other = batch_bytes([reading("U1", 30, 2_000)])
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        first = await engine.submit(twice, offset=5)
        copy = await engine.submit(twice, offset=9)  # the bridge's redelivery
        again = await engine.submit(twice, offset=9)  # Kafka redelivers the copy's record
        distinct = await engine.submit(other, offset=12)
        waiting = await dead_letters_waiting(engine.connection)
    assert [len(o.rejects) for o in (first, copy, again, distinct)] == [2, 2, 2, 1]
    assert letters(fresh_db) == [
        ("unknown_meter", 2, None),
        ("unknown_meter", 2, None),
        ("unknown_meter", 1, None),
    ]
    assert waiting == {"unknown_meter": 3}  # problems, not copies (PtsDeadLettersWaiting)

    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["U1"])
    report = await redrive(fresh_db, ReasonCode.UNKNOWN_METER, NOW)
    with psycopg.connect(fresh_db) as conn:
        stored = conn.execute("SELECT energy_wh FROM readings ORDER BY ts").fetchall()
    assert report.summary() == "re-drove 3 unknown_meter: 3 stored"
    assert stored == [(1_000,), (1_500,), (2_000,)]
    assert letters(fresh_db) == [
        ("unknown_meter", 2, "stored"),
        ("unknown_meter", 2, "stored"),
        ("unknown_meter", 1, "stored"),
    ]


async def waits_for_a_lock(db: str, pid: int) -> bool:
    """Whether the backend `pid` comes to wait for a lock within 20 s."""
    deadline = time.monotonic() + 20
    async with await psycopg.AsyncConnection.connect(db, autocommit=True) as watch:
        while time.monotonic() < deadline:
            cur = await watch.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            )
            if (await cur.fetchone()) == ("Lock",):
                return True
            await asyncio.sleep(0.05)
    return False


async def test_copies_recorded_by_two_workers_at_once_stay_one_dead_letter(
    fresh_db: str,
) -> None:
    """Two connections record the same refusal from two Kafka positions in concurrent
    transactions: the second waits for the first and records a copy."""
    row = ("unknown_meter", "meter 'U1' is not registered", b"payload", 0, None, None)
    async with (
        await psycopg.AsyncConnection.connect(fresh_db) as one,
        await psycopg.AsyncConnection.connect(fresh_db) as two,
    ):
        await record_dead_letters(one, [row], "readings.raw", 0, 40)
        pending = asyncio.create_task(record_dead_letters(two, [row], "readings.raw", 1, 7))
        blocked = await waits_for_a_lock(fresh_db, two.info.backend_pid)
        await one.commit()
        await pending
        await two.commit()
    assert (blocked, letters(fresh_db)) == (True, [("unknown_meter", 2, None)])


async def test_a_message_on_kafka_twice_is_one_dead_letter_for_the_worker(fleet: Fleet) -> None:
    """The real path: the same refused message produced twice to the readings topic (what a
    bridge redelivery does), then a distinct one, through a `pts stream worker` process: two
    dead letters, the first with two copies; status counts two problems."""
    twice = keyed([[reading("U1", 0, 1_000)]])[0]
    other = keyed([[reading("U1", 15, 1_500)]])[0]
    worker = fleet.start("w1")
    await produce(fleet.bootstrap, fleet.raw, [twice, twice, other])
    await wait_all_committed(fleet.bootstrap, fleet.group, fleet.raw, 120, [worker])
    async with await psycopg.AsyncConnection.connect(fleet.db) as aconn:
        waiting = await dead_letters_waiting(aconn)
    assert letters(fleet.db) == [("unknown_meter", 2, None), ("unknown_meter", 1, None)]
    assert waiting == {"unknown_meter": 2}
