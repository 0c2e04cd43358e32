"""Poison input through the in-process engine on the real PostgreSQL: one bad reading never
stops the others, and nothing refused or parked is lost (it waits in dead_letters)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from schemas.reading import Reading, ReadingBatch, Source
from storage.dead_letter_store import record_dead_letters
from storage.energy_store import monthly_totals
from stream.errors import ReasonCode
from stream.inprocess import InProcessEngine
from stream.persist import WorkLimits
from stream.redrive import redrive
from stream.status import dead_letters_waiting, sequence_anomalies
from tests.support import batch_bytes, register_fleet

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, tzinfo=UTC)
T0 = datetime(2026, 3, 10, 15, tzinfo=UTC)
FAST = WorkLimits(max_attempts=2, first_retry_delay_s=0.01)

# A fault of the database that hits one reading only (a real trigger, no mock): what any
# reading the checks cannot foresee does to the writer.
POISON_TRIGGER = """
CREATE FUNCTION pts_test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.energy_wh = 777777 THEN
        RAISE EXCEPTION 'injected fault for % at %', NEW.meter_id, NEW.ts;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER pts_test_poison BEFORE INSERT ON readings
    FOR EACH ROW EXECUTE FUNCTION pts_test_poison();
"""


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


def dead(db: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT reason_code, reason, payload, origin FROM dead_letters ORDER BY id"
        ).fetchall()


def day_energy(db: str, meter_id: str) -> dict[str, int]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT day::text, energy_wh FROM meter_day_energy WHERE meter_id = %s ORDER BY day",
            (meter_id,),
        ).fetchall()
    return {d: int(wh) for d, wh in rows}


async def test_a_register_beyond_bigint_is_refused_and_the_rest_is_stored(fresh_db: str) -> None:
    """1e20 Wh (what a DAS row or a gateway may send) is a value_out_of_range dead letter; the
    readings around it are stored and the engine goes on."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["B1"])
    huge = reading("B1", 15, 10**20)
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        first = await engine.submit(batch_bytes([reading("B1", 0, 1_000), huge]))
        second = await engine.submit(batch_bytes([reading("B1", 30, 1_500)]))
    assert (first.new, [r.code for r in first.rejects]) == (1, [ReasonCode.VALUE_OUT_OF_RANGE])
    assert second.new == 1
    [(code, reason, payload, origin)] = dead(fresh_db)
    assert (code, origin, bytes(payload)) == (
        "value_out_of_range",
        "stream",
        huge.model_dump_json().encode(),
    )
    assert "100000000000000000000" in reason
    with psycopg.connect(fresh_db) as conn:
        assert monthly_totals(conn) == {("B1", "2026-03"): 500}


async def test_a_reading_dated_1900_is_refused_quickly_and_creates_no_partition(
    fresh_db: str,
) -> None:
    """1900-01-01 is refused timestamp_out_of_range before any database work: no partition
    for 1900, no day walk; the next normal reading of the meter is stored at once."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["OLD"])
    ancient = reading("OLD", 0, 5, ts=datetime(1900, 1, 1, tzinfo=UTC))
    started = time.monotonic()
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        refused = await engine.submit(batch_bytes([ancient]))
        normal = await engine.submit(batch_bytes([reading("OLD", 0, 10), reading("OLD", 15, 70)]))
    elapsed = time.monotonic() - started
    assert [r.code for r in refused.rejects] == [ReasonCode.TIMESTAMP_OUT_OF_RANGE]
    assert normal.new == 2
    assert elapsed < 30  # the old code spun for more than 16 minutes here
    with psycopg.connect(fresh_db) as conn:
        partitions = conn.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE 'readings_y19%'"
        ).fetchall()
        assert partitions == []
    assert day_energy(fresh_db, "OLD") == {"2026-03-10": 60}


async def test_a_sixty_day_gap_splits_exactly_into_its_days(fresh_db: str) -> None:
    """A meter silent for 60 days: its one interval is split into 61 local days whose
    energies are the interpolated pieces, summing to the register difference."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["GAP"])
    start = datetime(2026, 1, 10, 17, tzinfo=UTC)
    first = reading("GAP", 0, 1_000, ts=start)
    later = reading("GAP", 0, 1_000 + 6_100_000, ts=start + timedelta(days=60))
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        await engine.submit(batch_bytes([first]))
        await engine.submit(batch_bytes([later]))
    days = day_energy(fresh_db, "GAP")
    assert len(days) == 61
    assert sum(days.values()) == 6_100_000
    # 60 × 86,400 = 5,184,000 s; the register is interpolated at each local midnight and
    # floored: Jan 10 runs 12:00–24:00 EST (43,200 s), Jan 11 is whole, Mar 8 has 23 hours
    span = 5_184_000
    at = [6_100_000 * s // span for s in (43_200, 129_600)]
    assert days["2026-01-10"] == at[0] == 50_833
    assert days["2026-01-11"] == at[1] - at[0] == 101_667
    mar8 = 6_100_000 * (57 * 86_400 + 43_200 - 3_600) // span
    mar7 = 6_100_000 * (56 * 86_400 + 43_200) // span
    assert (
        days["2026-03-07"] + days["2026-03-08"] == mar8 - 6_100_000 * (55 * 86_400 + 43_200) // span
    )
    assert days["2026-03-08"] == mar8 - mar7
    with psycopg.connect(fresh_db) as conn:
        assert monthly_totals(conn) == {
            ("GAP", "2026-01"): sum(v for d, v in days.items() if d < "2026-02"),
            ("GAP", "2026-02"): sum(v for d, v in days.items() if "2026-02" <= d < "2026-03"),
            ("GAP", "2026-03"): sum(v for d, v in days.items() if d >= "2026-03"),
        }


async def test_a_reading_the_database_refuses_is_parked_and_the_rest_is_stored(
    fresh_db: str,
) -> None:
    """A reading that passes every check but fails to store is tried max_attempts times,
    parked processing_failed with the error, and the readings of its message and of the
    messages after it are stored; once the fault is gone, redrive stores it."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["P1", "P2"])
        conn.execute(POISON_TRIGGER)
    poison = reading("P1", 30, 777_777)
    messages = [
        [reading("P1", 0, 777_000), reading("P1", 15, 777_500), poison, reading("P1", 45, 778_000)],
        [reading("P2", 0, 10), reading("P2", 15, 20)],
    ]
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW, work=FAST) as engine:
        outcomes = [await engine.submit(batch_bytes(m)) for m in messages]
    assert [(o.new, [r.code for r in o.rejects]) for o in outcomes] == [
        (3, [ReasonCode.PROCESSING_FAILED]),
        (2, []),
    ]
    [(code, reason, payload, origin)] = dead(fresh_db)
    parked = Reading.model_validate_json(bytes(payload))
    assert (code, origin) == ("processing_failed", "stream")
    assert (parked.meter_id, parked.ts, parked.energy_wh, parked.content_hash) == (
        poison.meter_id,
        poison.ts,
        poison.energy_wh,
        poison.content_hash,
    )
    assert "storing failed 2 times" in reason
    assert "injected fault for P1" in reason
    with psycopg.connect(fresh_db) as conn:
        assert monthly_totals(conn) == {("P1", "2026-03"): 1_000, ("P2", "2026-03"): 10}
        conn.execute("DROP TRIGGER pts_test_poison ON readings")
    report = await redrive(fresh_db, ReasonCode.PROCESSING_FAILED, NOW)
    assert report.summary() == "re-drove 1 processing_failed: 1 stored"
    with psycopg.connect(fresh_db) as conn:
        assert monthly_totals(conn) == {("P1", "2026-03"): 1_000, ("P2", "2026-03"): 10}
        stored = conn.execute("SELECT count(*) FROM readings WHERE meter_id = 'P1'").fetchone()
    assert stored == (4,)


async def test_statement_and_lock_timeouts_bound_the_engine_transactions(fresh_db: str) -> None:
    """The engine's connection carries the timeouts; a meter locked by another transaction
    longer than lock_timeout parks the reading (nothing waits for ever) instead of blocking."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["L1", "L2"])
    work = WorkLimits(
        statement_timeout_s=5, lock_timeout_s=0.3, max_attempts=2, first_retry_delay_s=0.01
    )
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW, work=work) as engine:
        with psycopg.connect(fresh_db) as holder:
            shown = holder.execute("SELECT 1").fetchone()
            assert shown == (1,)
            with holder.transaction():
                holder.execute("SELECT pg_advisory_xact_lock(7413002, hashtext('L1'))")
                started = time.monotonic()
                locked = await engine.submit(batch_bytes([reading("L1", 0, 5)]))
                elapsed = time.monotonic() - started
                free = await engine.submit(batch_bytes([reading("L2", 0, 5)]))
        settings = await engine.connection.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
        )
        assert await settings.fetchone() == ("5s", "300ms")
    assert [r.code for r in locked.rejects] == [ReasonCode.PROCESSING_FAILED]
    assert "LockNotAvailable" in locked.rejects[0].reason
    assert elapsed < 5
    assert free.new == 1
    report = await redrive(fresh_db, ReasonCode.PROCESSING_FAILED, NOW)
    assert report.summary() == "re-drove 1 processing_failed: 1 stored"


async def test_old_sequence_numbers_with_new_timestamps_are_stored_and_recorded(
    fresh_db: str,
) -> None:
    """A source sends seq 100-103, then a batch carrying old seq 1-2 with new timestamps (a
    replay): its readings are stored (raw data is never dropped) and both recorded in
    reading_sequence_anomalies with the seq they fell behind; status counts them."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["Q1"])

    def numbered(minutes: int, wh: int, seq: int) -> Reading:
        return reading("Q1", minutes, wh).model_copy(update={"seq": seq})

    first = [numbered(15 * n, 1_000 + n, 100 + n) for n in range(4)]
    replay = [numbered(60, 1_010, 1), numbered(75, 1_020, 0)]
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        await engine.submit(batch_bytes(first))
        outcome = await engine.submit(batch_bytes(replay))
    assert (outcome.new, outcome.rejects) == (2, [])
    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute(
            "SELECT ts, seq, previous_ts, previous_seq FROM reading_sequence_anomalies ORDER BY ts"
        ).fetchall()
    assert rows == [
        (T0 + timedelta(minutes=60), 1, T0 + timedelta(minutes=45), 103),
        (T0 + timedelta(minutes=75), 0, T0 + timedelta(minutes=60), 1),
    ]
    async with await psycopg.AsyncConnection.connect(fresh_db) as aconn:
        assert await sequence_anomalies(aconn) == 2


def gateway_batch(meter_id: str, source_id: str, minutes: int, wh: int) -> bytes:
    at = T0 + timedelta(minutes=minutes)
    one = Reading(
        meter_id=meter_id,
        ts=at,
        energy_wh=wh,
        source=Source.GATEWAY,
        source_id=source_id,
        seq=minutes,
        received_at=at,
    )
    return (
        ReadingBatch(
            batch_id=f"b-{minutes}", source=Source.GATEWAY, source_id=source_id, sent_at=at,
            readings=(one,),
        )
        .model_dump_json()
        .encode()
    )  # fmt: skip


async def test_a_bridge_dead_letter_is_redriven_only_for_its_topics_owner(fresh_db: str) -> None:
    """A valid batch that gw-1 published on a malformed topic of its own is re-driven and
    stored; one claiming gw-1 but published under gw-2's prefix is not (a forgery)."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["R1"], provider="gw-1")
    own = gateway_batch("R1", "gw-1", 0, 500)
    forged = gateway_batch("R1", "gw-1", 15, 900)
    async with await psycopg.AsyncConnection.connect(fresh_db, autocommit=True) as aconn:
        for n, (payload, topic) in enumerate(
            [(own, "pts/v1/gw-1/R1/extra/readings"), (forged, "pts/v1/gw-2/R1/x/readings")]
        ):
            await record_dead_letters(
                aconn,
                [("topic_invalid", f"not a readings topic [topic {topic}]", payload, 0, None,
                  None)],
                "readings.dead-letter", 0, n, origin="bridge",
            )  # fmt: skip
    report = await redrive(fresh_db, ReasonCode.TOPIC_INVALID, NOW)
    assert report.summary() == "re-drove 2 topic_invalid: 1 not from the topic's owner, 1 stored"
    with psycopg.connect(fresh_db) as conn:
        stored = conn.execute("SELECT ts, energy_wh FROM readings").fetchall()
    assert stored == [(T0, 500)]


async def test_redrive_leaves_the_das_intakes_dead_letters_waiting(fresh_db: str) -> None:
    """value_out_of_range letters of the DAS intake hold report rows, not readings: a
    re-drive of that reason takes the stream's letters only and leaves the intake's waiting
    (for the provider to send again), still counted by status."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["V1"])
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        await engine.submit(batch_bytes([reading("V1", 0, 10**20)]))
    async with await psycopg.AsyncConnection.connect(fresh_db, autocommit=True) as aconn:
        await record_dead_letters(
            aconn,
            [("value_out_of_range", "row 1: above [report r-1]", b'{"rows": []}', 0, None, None)],
            "readings.dead-letter", 0, 7, origin="das-intake",
        )  # fmt: skip
        report = await redrive(fresh_db, ReasonCode.VALUE_OUT_OF_RANGE, NOW)
        assert report.summary() == "re-drove 1 value_out_of_range: 1 rejected: value_out_of_range"
        assert await dead_letters_waiting(aconn) == {
            "value_out_of_range": 1,  # the new refusal of the re-driven reading
            "value_out_of_range (das-intake)": 1,
        }


async def test_the_engine_commits_durably_even_on_a_server_that_does_not(fresh_db: str) -> None:
    """The local servers run synchronous_commit = off (fast tests and demos); the engine's
    commit is the point after which Kafka offsets are acknowledged, so its connection commits
    durably. The fault suite's postmaster SIGKILL lost a committed, acknowledged batch
    (174 readings) before this."""
    with psycopg.connect(fresh_db) as conn:
        server = conn.execute("SHOW synchronous_commit").fetchone()
    assert server == ("off",)  # deploy/local/postgres.sh and the embedded server
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        shown = await engine.connection.execute("SHOW synchronous_commit")
        assert await shown.fetchone() == ("on",)
