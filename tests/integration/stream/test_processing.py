"""The engines' one processing loop (stream.processing.Processor) on the real PostgreSQL,
with a buffer of several messages as the Faust worker hands it: each message's triage comes
back in order with its origin, parked readings among its own rejects; the totals and the
worker metrics count the buffer; a lost connection is retried until the buffer is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from schemas.reading import Reading, Source
from storage.energy_store import monthly_totals
from stream.errors import ReasonCode, StoreUnavailableError
from stream.persist import PARKED_ORDINAL_BASE, Origin, WorkLimits
from stream.processing import Message, Processor
from tests.integration.stream.test_poison import POISON_TRIGGER
from tests.support import batch_bytes, register_fleet

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, tzinfo=UTC)
T0 = datetime(2026, 3, 10, 15, tzinfo=UTC)
FAST = WorkLimits(max_attempts=2, first_retry_delay_s=0.01)


def reading(meter_id: str, minutes: int, wh: int) -> Reading:
    at = T0 + timedelta(minutes=minutes)
    return Reading(
        meter_id=meter_id,
        ts=at,
        energy_wh=wh,
        source=Source.DAS,
        source_id="das-a",
        seq=minutes,
        received_at=at,
    )


def sample(processor: Processor, name: str, **labels: str) -> float:
    value = processor.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_a_buffer_comes_back_message_by_message(fresh_db: str) -> None:
    """Malformed, good, and a message with a reading the database refuses: the first is
    refused, the second stored, the third's good reading stored and its bad one parked as
    that message's reject (at its ordinal); totals and metrics count the buffer once."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["P1", "P2"])
        conn.execute(POISON_TRIGGER)
    messages = [
        Message(b"{not json", b"P1", Origin("readings.raw", 0, 10)),
        Message(
            batch_bytes([reading("P1", 0, 1_000), reading("P1", 15, 1_400)]),
            b"P1",
            Origin("readings.raw", 0, 11),
        ),
        Message(
            batch_bytes([reading("P2", 0, 2_000), reading("P2", 15, 777777)]),
            b"P2",
            Origin("readings.raw", 1, 5),
        ),
    ]
    processor = Processor(fresh_db, work=FAST, clock=lambda: NOW)
    await processor.start()
    try:
        done = await processor.process(messages)
    finally:
        await processor.close()
    assert [origin for _, origin in done.triaged] == [m.origin for m in messages]
    assert [[(r.code, r.ordinal) for r in t.rejects] for t, _ in done.triaged] == [
        [(ReasonCode.MALFORMED_JSON, None)],
        [],
        [(ReasonCode.PROCESSING_FAILED, PARKED_ORDINAL_BASE + 1)],
    ]
    assert (done.outcome.new, done.outcome.duplicate, done.outcome.conflict) == (3, 0, 0)
    assert sorted(r.code for r in done.outcome.rejects) == [
        ReasonCode.MALFORMED_JSON,
        ReasonCode.PROCESSING_FAILED,
    ]
    totals = processor.totals
    assert (totals.messages, totals.new, totals.rejected) == (3, 3, 2)
    assert sample(processor, "pts_stream_readings_total", outcome="stored") == 3
    assert sample(processor, "pts_stream_readings_refused_total", reason="malformed_json") == 1
    assert sample(processor, "pts_stream_readings_refused_total", reason="processing_failed") == 1
    with psycopg.connect(fresh_db) as conn:
        where = conn.execute(
            "SELECT reason_code, source_topic, source_partition, source_offset, ordinal "
            "FROM dead_letters ORDER BY id"
        ).fetchall()
        assert monthly_totals(conn) == {("P1", "2026-03"): 400}
    assert where == [
        ("malformed_json", "readings.raw", 0, 10, 0),
        ("processing_failed", "readings.raw", 1, 5, PARKED_ORDINAL_BASE + 1),
    ]


async def test_a_lost_connection_is_retried_until_the_buffer_is_stored(fresh_db: str) -> None:
    """The server ends the processor's connection: `process` raises, `process_until_stored`
        backs off, reconnects and stores the buffer once (what the Faust worker runs); the
    in-process engine lets the error reach its caller."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["L1"])
    message = Message(
        batch_bytes([reading("L1", 0, 5_000), reading("L1", 15, 5_250)]),
        b"L1",
        Origin("readings.raw", 0, 0),
    )
    processor = Processor(fresh_db, clock=lambda: NOW)
    await processor.start()
    try:
        pid = processor.connection.info.backend_pid
        with psycopg.connect(fresh_db, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StoreUnavailableError, match="administrator command"):
            await processor.process([message])
        done = await processor.process_until_stored([message])
        assert processor.connection.info.backend_pid != pid
    finally:
        await processor.close()
    assert (done.outcome.new, done.outcome.rejects) == (2, [])
    assert sample(processor, "pts_stream_database_unavailable_total") == 1
    with psycopg.connect(fresh_db) as conn:
        assert monthly_totals(conn) == {("L1", "2026-03"): 250}
