"""Poison input through the real Kafka and a `pts stream worker` process: a record that fails
is parked, the readings behind it are stored, ingest's dead letters reach the table, and the
worker stops within seconds of SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from pts.cli import cli
from schemas.reading import Reading, Source
from storage.energy_store import monthly_totals
from tests.integration.stream.kafka_support import (
    consume_all,
    keyed,
    produce,
    wait_all_committed,
    wait_for,
)
from tests.integration.stream.test_faust import Fleet, fleet, topics
from tests.integration.stream.test_poison import POISON_TRIGGER
from tests.support import register_fleet

pytestmark = pytest.mark.integration
__all__ = ["fleet", "topics"]  # the fixtures, shared with test_faust

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def reading(meter_id: str, minutes: int, wh: int, ts: datetime | None = None) -> Reading:
    at = ts or T0 + timedelta(minutes=minutes)
    return Reading(
        meter_id=meter_id,
        ts=at,
        energy_wh=wh,
        source=Source.DAS,
        source_id="das-a",
        seq=minutes,
        received_at=at,
    )


def stored(db: str) -> dict[str, int]:
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT meter_id, count(*) FROM readings GROUP BY meter_id").fetchall()
    return {m: int(n) for m, n in rows}


async def test_a_failing_record_is_parked_and_the_readings_behind_it_are_stored(
    fleet: Fleet,
) -> None:
    """A reading the database refuses (a real trigger), 1e20 Wh and a reading of 1900 sit in
    front of good readings of the same partition: the first is parked processing_failed after
    2 attempts, the others refused with their reason, every good reading is stored, the
    worker keeps running, and SIGTERM stops it within seconds."""
    with psycopg.connect(fleet.db) as conn:
        register_fleet(conn, ["F1", "F2"])
        conn.execute(POISON_TRIGGER)
    poison = reading("F1", 30, 777_777)
    huge = reading("F1", 75, 10**20)
    ancient = reading("F1", 0, 5, ts=datetime(1900, 1, 1, tzinfo=UTC))
    batches = [
        [reading("F1", 0, 777_000), reading("F1", 15, 777_500), poison],
        [huge],
        [ancient],
        [reading("F1", 45, 778_000), reading("F1", 60, 778_100)],
        [reading("F2", 0, 10), reading("F2", 15, 30)],
    ]
    worker = fleet.start("w1", {"PTS_STREAM_MAX_ATTEMPTS": "2"})
    await produce(fleet.bootstrap, fleet.raw, keyed(batches))
    await wait_all_committed(fleet.bootstrap, fleet.group, fleet.raw, 120, [worker])
    assert stored(fleet.db) == {"F1": 4, "F2": 2}
    with psycopg.connect(fleet.db) as conn:
        totals = monthly_totals(conn)
        dead = conn.execute(
            "SELECT reason_code, origin, payload FROM dead_letters ORDER BY reason_code"
        ).fetchall()
    assert sum(wh for (m, _), wh in totals.items() if m == "F1") == 1_100
    assert sum(wh for (m, _), wh in totals.items() if m == "F2") == 20
    assert [(c, o) for c, o, _ in dead] == [
        ("processing_failed", "stream"),
        ("timestamp_out_of_range", "stream"),
        ("value_out_of_range", "stream"),
    ]
    hashes = [Reading.model_validate_json(bytes(p)).content_hash for _, _, p in dead]
    assert hashes == [poison.content_hash, ancient.content_hash, huge.content_hash]
    records: list[Any] = await consume_all(fleet.bootstrap, fleet.dead, 3, 30)
    assert sorted(dict(r.headers)["reason_code"] for r in records) == [
        b"processing_failed",
        b"timestamp_out_of_range",
        b"value_out_of_range",
    ]
    assert worker.proc.poll() is None
    started = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    try:
        worker.proc.wait(15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker ignored SIGTERM for 15 s:\n{worker.output()[-2000:]}")
    assert time.monotonic() - started < 15


async def test_ingest_dead_letters_reach_the_table_status_and_redrive(fleet: Fleet) -> None:
    """A bridge dead letter (header origin=bridge) and a DAS intake one produced to the
    dead-letter topic are recorded once each with their origin; `pts stream status` counts
    them; a redelivery adds nothing."""
    worker = fleet.start("w1")
    valid = keyed([[reading("X1", 0, 5)]])[0][1]
    bridge_headers = [
        ("reason_code", b"topic_invalid"),
        ("reason", b"topic 'pts/v1/gw/x/y/readings' is not a readings topic"),
        ("mqtt_topic", b"pts/v1/gw/x/y/readings"),
        ("origin", b"bridge"),
    ]
    intake_headers = [
        ("reason_code", b"value_out_of_range"),
        ("reason", b"row 1: meterValue 1E+20 kWh is above the largest register"),
        ("das_report_id", b"r-1"),
        ("origin", b"das-intake"),
    ]
    stream_headers = [("reason_code", b"unknown_meter"), ("origin", b"stream")]
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=fleet.bootstrap, acks="all")
    await producer.start()
    try:
        for value, headers in (
            (valid, bridge_headers),
            (b'{"systems": []}', intake_headers),
            (b"x", stream_headers),
        ):
            await (await producer.send(fleet.dead, value=value, headers=headers))
    finally:
        await producer.stop()

    def recorded() -> list[tuple[Any, ...]]:
        with psycopg.connect(fleet.db) as conn:
            return conn.execute(
                "SELECT origin, reason_code, reason, payload FROM dead_letters ORDER BY origin"
            ).fetchall()

    await wait_for(lambda: len(recorded()) == 2, 90, "ingest dead letters recorded")
    rows = recorded()
    assert [(o, c, bytes(p)) for o, c, _, p in rows] == [
        ("bridge", "topic_invalid", valid),
        ("das-intake", "value_out_of_range", b'{"systems": []}'),
    ]
    assert rows[0][2].endswith("[topic pts/v1/gw/x/y/readings]")
    status = await asyncio.to_thread(  # the command runs its own event loop
        CliRunner().invoke, cli, ["stream", "status", "--app-id", fleet.group],
        env={"PTS_DATABASE_URL": fleet.db, "PTS_KAFKA_BOOTSTRAP": fleet.bootstrap,
             "PTS_KAFKA_READINGS_TOPIC": fleet.raw},
    )  # fmt: skip
    assert status.exit_code == 0, status.output
    assert status.output.splitlines()[-1] == (
        "dead letters waiting: 1 topic_invalid (bridge), 1 value_out_of_range (das-intake)"
    )
    assert worker.proc.poll() is None
