"""The Faust engine on the real Kafka and PostgreSQL (`pts stream worker` processes): what
only it does. What both engines must do is in test_engine_contract.py."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from pts.cli import cli
from tests.integration.stream.kafka_support import (
    Worker,
    consume_all,
    create_topics,
    delete_topics,
    keyed,
    produce,
    wait_all_committed,
    wait_for,
    wait_for_members,
)
from tests.support import (
    END,
    MAR,
    START,
    assert_exact,
    batch_bytes,
    daily_batches,
    register_fleet,
    solar_series,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def topics(kafka_bootstrap: str) -> AsyncIterator[tuple[str, str]]:
    raw, dead = await create_topics(kafka_bootstrap)
    yield raw, dead
    await delete_topics(kafka_bootstrap, raw, dead)


class Fleet:
    """Worker processes of one consumer group on a test's private topics."""

    def __init__(self, db: str, bootstrap: str, topics: tuple[str, str], tmp: Path) -> None:
        self.db, self.bootstrap, self.tmp = db, bootstrap, tmp
        self.raw, self.dead = topics
        self.group = f"pts-stream-test-{uuid.uuid4().hex[:8]}"
        self.workers: list[Worker] = []

    def start(self, name: str, settings: dict[str, str] | None = None) -> Worker:
        worker = Worker(
            name, self.db, self.bootstrap, self.raw, self.dead, self.group, self.tmp, settings
        )
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


@pytest.fixture
async def fleet(
    fresh_db: str, kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> AsyncIterator[Fleet]:
    f = Fleet(fresh_db, kafka_bootstrap, topics, tmp_path)
    yield f
    f.stop()
    await delete_topics(kafka_bootstrap, f"{f.group}-__assignor-__leader")


async def test_month_exact_and_stream_status_shows_nothing_waiting(fleet: Fleet) -> None:
    """Five meters over March (DST start) through Kafka and one worker: totals exact, and
    `pts stream status` shows every partition committed to its end, nothing waiting."""
    series = [solar_series(f"K{i}", START, END, seed=i) for i in range(5)]
    with psycopg.connect(fleet.db) as conn:
        register_fleet(conn, [s.meter_id for s in series])
    worker = fleet.start("w1")
    sent = await produce(
        fleet.bootstrap, fleet.raw, keyed(b for s in series for b in daily_batches(s))
    )
    await wait_all_committed(fleet.bootstrap, fleet.group, fleet.raw, 90, [worker])
    assert sent == 5 * 33
    assert_exact(fleet.db, series)
    # what an operator sees: every partition committed to its end, nothing waiting
    status = await asyncio.to_thread(  # the command runs its own event loop
        CliRunner().invoke, cli, ["stream", "status", "--app-id", fleet.group],
        env={"PTS_DATABASE_URL": fleet.db, "PTS_KAFKA_BOOTSTRAP": fleet.bootstrap,
             "PTS_KAFKA_READINGS_TOPIC": fleet.raw},
    )  # fmt: skip
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    assert lines[0] == f"{fleet.raw}, consumer group {fleet.group}:"
    assert lines[-2:] == ["  total lag 0 messages", "dead letters waiting: none"]
    rows = [line.split() for line in lines[2:-2]]  # partition, committed ('-': never), end, lag
    assert [row[3] for row in rows] == ["0"] * len(rows)
    assert all(row[1] == row[2] or (row[1], row[2]) == ("-", "0") for row in rows)
    assert sum(int(row[2]) for row in rows) == sent


async def test_two_workers_one_killed_mid_stream(fleet: Fleet) -> None:
    """Two workers in one group; one is SIGKILLed mid-stream; the survivor finishes exactly."""
    series = [solar_series(f"W{i}", START, END, seed=40 + i) for i in range(6)]
    with psycopg.connect(fleet.db) as conn:
        register_fleet(conn, [s.meter_id for s in series])
    messages = keyed(b for s in series for b in daily_batches(s))
    random.Random(3).shuffle(messages)  # per meter the order changes too: any order is fine
    expected = sum(len(s.readings) for s in series)
    first, second = fleet.start("w1"), fleet.start("w2")
    await wait_for_members(fleet.bootstrap, fleet.group, 2, 60)
    half = len(messages) // 2
    await produce(fleet.bootstrap, fleet.raw, messages[:half])

    def stored() -> int:
        with psycopg.connect(fleet.db) as conn:
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
        return int(row[0]) if row else 0

    await wait_for(lambda: stored() > 0, 120, "the workers storing readings", 0.05)
    # Frozen, w1 stores nothing more; the second half lands on its partitions too (any two
    # of the four hold some of these meters), so it dies with records it never committed,
    # and mid-stream whatever this machine's speed.
    first.proc.send_signal(signal.SIGSTOP)
    stored_at_kill = stored()
    await produce(fleet.bootstrap, fleet.raw, messages[half:])
    first.kill()
    await wait_all_committed(fleet.bootstrap, fleet.group, fleet.raw, 150, [second])
    assert 0 < stored_at_kill < expected  # killed mid-stream
    assert_exact(fleet.db, series)
    with psycopg.connect(fleet.db) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (expected,)


async def test_bad_messages_end_in_the_dead_letter_topic_and_the_worker_keeps_going(
    fleet: Fleet,
) -> None:
    """Malformed JSON, wrong types and an unknown meter are dead-lettered with their reason
    (of a batch with one malformed reading, that reading alone: the other is stored)."""
    good = solar_series("D1", START, MAR, seed=1)
    wrong = json.loads(batch_bytes(good.readings[10:12]))
    wrong["readings"][0]["ts"] = "yesterday"
    unknown = solar_series("NOPE", START, START, seed=1)
    with psycopg.connect(fleet.db) as conn:
        register_fleet(conn, ["D1"])
    worker = fleet.start("w1")
    bad = [
        (b"D1", b"{not json"),
        (b"D1", json.dumps(wrong).encode()),
        (b"NOPE", batch_bytes(unknown.readings)),
    ]
    await produce(fleet.bootstrap, fleet.raw, [*bad, (b"D1", batch_bytes(good.readings[:8]))])
    await wait_all_committed(fleet.bootstrap, fleet.group, fleet.raw, 90, [worker])
    records: list[Any] = await consume_all(fleet.bootstrap, fleet.dead, 3, 30)
    got = sorted(
        (dict(r.headers)["reason_code"].decode(), r.value, dict(r.headers)["reason"].decode())
        for r in records
    )
    assert [(code, value) for code, value, _ in got] == [
        ("malformed_json", b"{not json"),
        ("schema_invalid", json.dumps(wrong["readings"][0], separators=(",", ":")).encode()),
        ("unknown_meter", unknown.readings[0].model_dump_json().encode()),
    ]
    assert "readings[0].ts" in got[1][2]
    assert "'NOPE' is not registered" in got[2][2]
    with psycopg.connect(fleet.db) as conn:
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
        dead = conn.execute(
            "SELECT reason_code, source_topic, source_offset FROM dead_letters ORDER BY reason_code"
        ).fetchall()
    assert stored == (8 + 1,)
    assert dead == [
        ("malformed_json", fleet.raw, 0),
        ("schema_invalid", fleet.raw, 1),
        ("unknown_meter", fleet.raw, 0),
    ]
    assert worker.proc.poll() is None
