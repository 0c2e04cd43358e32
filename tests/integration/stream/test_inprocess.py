"""The in-process engine on the real PostgreSQL: monthly totals exact whatever the delivery."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from schemas.reading import Reading, Source
from storage.energy_store import monthly_totals
from stream.errors import ReasonCode
from stream.inprocess import InProcessEngine
from stream.stages import Limits
from tests.support import (
    APR,
    END,
    MAR,
    START,
    batch_bytes,
    daily_batches,
    hourly_batches,
    register_fleet,
    solar_series,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, tzinfo=UTC)


async def engine(url: str) -> InProcessEngine:
    return await InProcessEngine.connect(url, clock=lambda: NOW)


async def test_month_exact_in_order(fresh_db: str) -> None:
    """Two meters over March (with the DST change): totals equal the truth to the Wh."""
    series = [solar_series(f"M{i}", START, END, seed=i) for i in range(2)]
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, [s.meter_id for s in series])
    async with await engine(fresh_db) as eng:
        for s in series:
            for batch in hourly_batches(s)[:48] + daily_batches(s)[2:]:
                await eng.submit(batch_bytes(batch))
    with psycopg.connect(fresh_db) as conn:
        totals = monthly_totals(conn)
    for s in series:
        assert totals[(s.meter_id, "2026-03")] == s.truth(MAR, APR)
        assert totals[(s.meter_id, "2026-02")] == s.truth(START, MAR)


async def test_month_exact_through_redelivery_shuffle_late_rollover_and_swap(
    fresh_db: str,
) -> None:
    """Every batch twice, shuffled within the hour, a late day, a rollover and a meter swap."""
    rollover = solar_series("ROLL", START, END, seed=7, first_register=2**32 - 600_000)
    swap_at = datetime(2026, 3, 14, 15, tzinfo=UTC)
    swapped = solar_series("SWAP", START, END, seed=8, swap_at=swap_at)
    plain = solar_series("PLAIN", START, END, seed=9)
    rnd = random.Random(42)
    late_day = datetime(2026, 3, 20, tzinfo=UTC)
    deliveries: list[list[Any]] = []
    late: list[list[Any]] = []
    for s in (rollover, swapped, plain):
        for batch in daily_batches(s, shuffle_within_hour=rnd):
            target = late if batch[0].ts.replace(hour=0, minute=0) == late_day else deliveries
            target += [batch, list(reversed(batch))]
    rnd.shuffle(deliveries)
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["ROLL", "SWAP", "PLAIN"])
    async with await engine(fresh_db) as eng:
        for batch in deliveries + late:
            await eng.submit(batch_bytes(batch))
        totals_seen = eng.totals
    with psycopg.connect(fresh_db) as conn:
        totals = monthly_totals(conn)
        flags = dict(
            conn.execute(
                "SELECT meter_id, array_agg(DISTINCT f ORDER BY f) FROM meter_month_energy, "
                "unnest(flags) f GROUP BY meter_id"
            ).fetchall()
        )
        interval_sums = {
            m: (n, wh)
            for m, n, wh in conn.execute(
                "SELECT meter_id, count(*), sum(energy_wh)::bigint FROM meter_interval_energy "
                "GROUP BY meter_id"
            ).fetchall()
        }
    for s in (rollover, swapped, plain):  # one interval per successive pair, re-split exactly
        assert interval_sums[s.meter_id] == (len(s.readings) - 1, s.truth(START, END))
    readings = sum(len(s.readings) for s in (rollover, swapped, plain))
    assert (totals_seen.new, totals_seen.duplicate) == (readings, readings)
    for s in (rollover, swapped, plain):
        assert totals[(s.meter_id, "2026-03")] == s.truth(MAR, APR), s.meter_id
        assert totals[(s.meter_id, "2026-02")] == s.truth(START, MAR), s.meter_id
    assert flags["ROLL"] == ["rollover"]
    assert flags["SWAP"] == ["meter_replaced"]
    assert "PLAIN" not in flags


async def test_conflicting_redelivery_is_recorded_and_changes_no_total(fresh_db: str) -> None:
    """A repeat with another register value is kept as a conflict; the total stands."""
    s = solar_series("C1", START, END, seed=3)
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["C1"])
    noon = s.readings[200]
    altered = type(noon).model_validate(
        noon.model_copy(update={"energy_wh": noon.energy_wh + 5, "content_hash": ""}).model_dump()
    )
    async with await engine(fresh_db) as eng:
        for batch in daily_batches(s):
            await eng.submit(batch_bytes(batch))
        outcome = await eng.submit(batch_bytes([altered]))
    with psycopg.connect(fresh_db) as conn:
        totals = monthly_totals(conn)
        conflicts = conn.execute("SELECT meter_id, energy_wh FROM reading_conflicts").fetchall()
    assert (outcome.new, outcome.duplicate, outcome.conflict) == (0, 0, 1)
    assert conflicts == [("C1", noon.energy_wh + 5)]
    assert totals[("C1", "2026-03")] == s.truth(MAR, APR)


async def test_bad_input_goes_to_dead_letters_and_good_input_still_lands(fresh_db: str) -> None:
    """Malformed JSON, wrong types, negative register, unknown meter, foreign provider, future."""
    s = solar_series("G1", START, MAR, seed=1)
    good = batch_bytes(s.readings[:8])
    wrong_types = json.loads(batch_bytes(s.readings[8:10]))
    wrong_types["readings"][0]["energy_wh"] = "lots"
    negative = json.loads(batch_bytes(s.readings[10:12]))
    negative["readings"][1]["energy_wh"] = -5
    negative["readings"][1]["content_hash"] = ""
    unknown = solar_series("NOPE", START, START, seed=1)
    foreign = solar_series("G1", MAR, MAR, seed=1, source_id="das-b")
    future = solar_series("G1", datetime(2026, 4, 3, tzinfo=UTC), datetime(2026, 4, 3, tzinfo=UTC))
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["G1"])
    async with await engine(fresh_db) as eng:
        outcomes = [
            await eng.submit(b"{not json"),
            await eng.submit(json.dumps(wrong_types).encode()),
            await eng.submit(json.dumps(negative).encode()),
            await eng.submit(batch_bytes(unknown.readings)),
            await eng.submit(batch_bytes(foreign.readings, source_id="das-b")),
            await eng.submit(batch_bytes(future.readings)),
            await eng.submit(good),
        ]
    with psycopg.connect(fresh_db) as conn:
        dead = conn.execute(
            "SELECT reason_code, source_topic, payload FROM dead_letters ORDER BY id"
        ).fetchall()
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert [[r.code for r in o.rejects] for o in outcomes] == [
        [ReasonCode.MALFORMED_JSON],
        [ReasonCode.SCHEMA_INVALID],
        [ReasonCode.NEGATIVE_REGISTER],
        [ReasonCode.UNKNOWN_METER],
        [ReasonCode.PROVIDER_MISMATCH],
        [ReasonCode.FUTURE_TIMESTAMP],
        [],
    ]
    assert "readings.0.energy_wh" in outcomes[1].rejects[0].reason
    assert [(d[0], d[1]) for d in dead] == [
        ("malformed_json", "inprocess"),
        ("schema_invalid", "inprocess"),
        ("negative_register", "inprocess"),
        ("unknown_meter", "inprocess"),
        ("provider_mismatch", "inprocess"),
        ("future_timestamp", "inprocess"),
    ]
    assert bytes(dead[0][2]) == b"{not json"
    assert stored == (8,)


async def test_power_tolerance_setting_decides_what_is_implausible(fresh_db: str) -> None:
    """50 kW DC; 15 kWh in an hour is 15 kW, fine at nameplate × 1.2 (the default) and
    implausible at × 0.25: the engine flags it with the tolerance it was given, raw kept."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["M1", "M2"])

    def hour(meter_id: str) -> list[Reading]:
        return [
            Reading(meter_id=meter_id, ts=MAR + timedelta(hours=h), energy_wh=wh,
                    source=Source.DAS, source_id="das-a", seq=h,
                    received_at=MAR + timedelta(hours=h))
            for h, wh in ((0, 1_000), (1, 16_000))
        ]  # fmt: skip

    strict = Limits(power_tolerance=Decimal("0.25"))
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW, limits=strict) as eng:
        await eng.submit(batch_bytes(hour("M1")))
    async with await engine(fresh_db) as eng:
        await eng.submit(batch_bytes(hour("M2")))
    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute(
            "SELECT meter_id, energy_wh, flags FROM meter_interval_energy ORDER BY meter_id"
        ).fetchall()
    assert rows == [("M1", 15_000, ["implausible_power"]), ("M2", 15_000, [])]
