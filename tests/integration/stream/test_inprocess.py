"""The stream core on the real PostgreSQL: monthly totals exact whatever the delivery."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from storage.energy_store import monthly_totals
from stream.errors import ReasonCode
from stream.processor import BatchProcessor, load_directory
from tests.support import (
    batch_bytes,
    daily_batches,
    hourly_batches,
    register_fleet,
    solar_series,
)

pytestmark = pytest.mark.integration

# November 2026 in New York: DST ends on Nov 1; local month = [Nov 1 04:00Z, Dec 1 05:00Z)
START = datetime(2026, 10, 31, 4, tzinfo=UTC)
NOV = datetime(2026, 11, 1, 4, tzinfo=UTC)
DEC = datetime(2026, 12, 1, 5, tzinfo=UTC)
END = datetime(2026, 12, 1, 8, tzinfo=UTC)


def processor(conn: psycopg.Connection[Any]) -> BatchProcessor:
    return BatchProcessor(load_directory(conn))


def test_month_exact_in_order(fresh_db: str) -> None:
    """Two meters over November (with the DST change): totals equal the truth to the Wh."""
    series = [solar_series(f"M{i}", START, END, seed=i) for i in range(2)]
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, [s.meter_id for s in series])
        proc = processor(conn)
        for s in series:
            for batch in hourly_batches(s)[:48] + daily_batches(s)[2:]:
                proc.process(conn, batch_bytes(batch), "test")
        totals = monthly_totals(conn)
    for s in series:
        assert totals[(s.meter_id, "2026-11")] == s.truth(NOV, DEC)
        assert totals[(s.meter_id, "2026-10")] == s.truth(START, NOV)


def test_month_exact_through_redelivery_shuffle_late_rollover_and_swap(fresh_db: str) -> None:
    """Every batch twice, shuffled within the hour, a late day, a rollover and a meter swap."""
    rollover = solar_series("ROLL", START, END, seed=7, first_register=2**32 - 600_000)
    swap_at = datetime(2026, 11, 14, 15, tzinfo=UTC)
    swapped = solar_series("SWAP", START, END, seed=8, swap_at=swap_at)
    plain = solar_series("PLAIN", START, END, seed=9)
    rnd = random.Random(42)
    late_day = datetime(2026, 11, 20, tzinfo=UTC)
    deliveries: list[list[Any]] = []
    late: list[list[Any]] = []
    for s in (rollover, swapped, plain):
        for batch in daily_batches(s, shuffle_within_hour=rnd):
            target = late if batch[0].ts.replace(hour=0, minute=0) == late_day else deliveries
            target += [batch, list(reversed(batch))]
    rnd.shuffle(deliveries)
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["ROLL", "SWAP", "PLAIN"])
        proc = processor(conn)
        new = dup = 0
        for batch in deliveries + late:
            outcome = proc.process(conn, batch_bytes(batch), "test")
            new, dup = new + outcome.new, dup + outcome.duplicate
        totals = monthly_totals(conn)
        flags = dict(
            conn.execute(
                "SELECT meter_id, array_agg(DISTINCT f ORDER BY f) FROM meter_month_energy, "
                "unnest(flags) f GROUP BY meter_id"
            ).fetchall()
        )
    readings = sum(len(s.readings) for s in (rollover, swapped, plain))
    assert (new, dup) == (readings, readings)
    for s in (rollover, swapped, plain):
        assert totals[(s.meter_id, "2026-11")] == s.truth(NOV, DEC), s.meter_id
        assert totals[(s.meter_id, "2026-10")] == s.truth(START, NOV), s.meter_id
    assert flags["ROLL"] == ["rollover"]
    assert flags["SWAP"] == ["meter_replaced"]
    assert "PLAIN" not in flags


def test_conflicting_redelivery_is_recorded_and_changes_no_total(fresh_db: str) -> None:
    """A repeat with another register value is kept as a conflict; the total stands."""
    s = solar_series("C1", START, END, seed=3)
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["C1"])
        proc = processor(conn)
        for batch in hourly_batches(s):
            proc.process(conn, batch_bytes(batch), "test")
        noon = s.readings[200]
        altered = noon.model_copy(update={"energy_wh": noon.energy_wh + 5, "content_hash": ""})
        outcome = proc.process(
            conn, batch_bytes([type(noon).model_validate(altered.model_dump())]), "test"
        )
        totals = monthly_totals(conn)
        conflicts = conn.execute("SELECT meter_id, energy_wh FROM reading_conflicts").fetchall()
    assert outcome.conflict == 1
    assert conflicts == [("C1", noon.energy_wh + 5)]
    assert totals[("C1", "2026-11")] == s.truth(NOV, DEC)


def test_bad_input_goes_to_dead_letters_and_good_input_still_lands(fresh_db: str) -> None:
    """Malformed JSON, wrong types, unknown meter, foreign provider: each dead-lettered."""
    s = solar_series("G1", START, NOV, seed=1)
    good = batch_bytes(s.readings[:8])
    wrong_types = json.loads(batch_bytes(s.readings[8:10]))
    wrong_types["readings"][0]["energy_wh"] = "lots"
    unknown = solar_series("NOPE", START, START, seed=1)
    foreign = solar_series("G1", NOV, NOV, seed=1, source_id="das-b")
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["G1"])
        proc = processor(conn)
        outcomes = [
            proc.process(conn, b"{not json", "test"),
            proc.process(conn, json.dumps(wrong_types).encode(), "test"),
            proc.process(conn, batch_bytes(unknown.readings), "test"),
            proc.process(conn, batch_bytes(foreign.readings, source_id="das-b"), "test"),
            proc.process(conn, good, "test"),
        ]
        dead = conn.execute("SELECT reason_code, origin FROM dead_letters ORDER BY id").fetchall()
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert [[code for code, _ in o.rejected] for o in outcomes] == [
        [ReasonCode.MALFORMED_JSON],
        [ReasonCode.SCHEMA_INVALID],
        [ReasonCode.UNKNOWN_METER],
        [ReasonCode.PROVIDER_MISMATCH],
        [],
    ]
    assert "readings.0.energy_wh" in outcomes[1].rejected[0][1]
    assert [d[0] for d in dead] == [
        "malformed_json",
        "schema_invalid",
        "unknown_meter",
        "provider_mismatch",
    ]
    assert stored == (8,)
