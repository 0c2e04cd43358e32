"""The engine contract: the same cases against the in-process engine and against the Faust
worker on real Kafka (tests/integration/stream/engines.py), on the real PostgreSQL.

Monthly totals are exact to the Wh whatever the delivery; redeliveries are duplicates, a
repeat with another value a conflict; bad input ends in the dead letters (with where it came
from) while good input still lands; the power tolerance setting decides what is implausible.
Faust-only behaviour (`pts stream status`, a worker killed mid-stream, the dead-letter topic)
is in test_faust.py.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from schemas.reading import Reading, Source
from tests.integration.stream.engines import Engine, Faust, InProcess, Message
from tests.integration.stream.kafka_support import create_topics, delete_topics
from tests.support import (
    END,
    MAR,
    START,
    assert_exact,
    batch_bytes,
    daily_batches,
    hourly_batches,
    register_fleet,
    solar_series,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["inprocess", "faust"])
async def engine(
    request: pytest.FixtureRequest, fresh_db: str, tmp_path: Path
) -> AsyncIterator[Engine]:
    if request.param == "inprocess":
        inprocess = InProcess(fresh_db)
        yield inprocess
        await inprocess.stop()
    else:
        bootstrap: str = request.getfixturevalue("kafka_bootstrap")
        topics = await create_topics(bootstrap)
        faust = Faust(fresh_db, bootstrap, topics, tmp_path)
        try:
            yield faust
        finally:
            await faust.close()
            await delete_topics(bootstrap, *topics)


def keyed(batches: Iterable[list[Reading]], source_id: str = "das-a") -> list[Message]:
    """One message per batch, keyed by its meter id (one meter per batch)."""
    return [(b[0].meter_id.encode(), batch_bytes(b, source_id=source_id)) for b in batches]


async def test_month_exact_in_order(engine: Engine) -> None:
    """Five meters over March (with the DST change), first hour by hour then day by day:
    totals equal the truth to the Wh."""
    series = [solar_series(f"K{i}", START, END, seed=i) for i in range(5)]
    with psycopg.connect(engine.db) as conn:
        register_fleet(conn, [s.meter_id for s in series])
    await engine.start()
    batches = [b for s in series for b in hourly_batches(s)[:48] + daily_batches(s)[2:]]
    await engine.deliver(keyed(batches))
    assert_exact(engine.db, series)
    counts = await engine.counts()
    readings = sum(len(s.readings) for s in series)
    sent = sum(len(b) for b in batches)  # the hours and days overlap at their edges
    assert (counts.new, counts.duplicate, counts.conflict, counts.refused) == (
        readings,
        sent - readings,
        0,
        {},
    )


async def test_month_exact_through_redelivery_shuffle_late_day_rollover_swap_and_conflict(
    engine: Engine,
) -> None:
    """Every batch twice (the second time reversed), shuffled within the hour, a late day, a
    rollover, a meter swap, and one repeat with another register value (a conflict)."""
    rnd = random.Random(42)
    series = [
        solar_series("ROLL", START, END, seed=7, first_register=2**32 - 600_000),
        solar_series("SWAP", START, END, seed=8, swap_at=datetime(2026, 3, 14, 15, tzinfo=UTC)),
        solar_series("PLAIN", START, END, seed=9),
        *(solar_series(f"P{i}", START, END, seed=20 + i) for i in range(3)),
    ]
    late_day = datetime(2026, 3, 20, tzinfo=UTC)
    deliveries: list[list[Reading]] = []
    late: list[list[Reading]] = []
    for s in series:
        for batch in daily_batches(s, shuffle_within_hour=rnd):
            target = late if batch[0].ts.replace(hour=0, minute=0) == late_day else deliveries
            target += [batch, list(reversed(batch))]
    rnd.shuffle(deliveries)
    noon = series[-1].readings[300]
    altered = Reading.model_validate(
        noon.model_copy(update={"energy_wh": noon.energy_wh + 7, "content_hash": ""}).model_dump()
    )
    with psycopg.connect(engine.db) as conn:
        register_fleet(conn, [s.meter_id for s in series])
    await engine.start()
    await engine.deliver(keyed([*deliveries, *late, [altered]]))
    assert_exact(engine.db, series)
    with psycopg.connect(engine.db) as conn:
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
        conflicts = conn.execute("SELECT meter_id, ts, energy_wh FROM reading_conflicts").fetchall()
        flags: dict[str, list[str]] = dict(
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
    readings = sum(len(s.readings) for s in series)
    assert stored == (readings,)
    for s in series:  # one interval per successive pair, re-split exactly
        assert interval_sums[s.meter_id] == (len(s.readings) - 1, s.truth(START, END))
    counts = await engine.counts()
    assert (counts.new, counts.duplicate, counts.conflict) == (readings, readings, 1)
    assert conflicts == [(noon.meter_id, noon.ts, noon.energy_wh + 7)]
    assert flags == {"ROLL": ["rollover"], "SWAP": ["meter_replaced"]}


async def test_conflicting_redelivery_is_recorded_and_changes_no_total(engine: Engine) -> None:
    """A repeat with another register value is kept as a conflict; the total stands."""
    s = solar_series("C1", START, END, seed=3)
    with psycopg.connect(engine.db) as conn:
        register_fleet(conn, ["C1"])
    noon = s.readings[200]
    altered = Reading.model_validate(
        noon.model_copy(update={"energy_wh": noon.energy_wh + 5, "content_hash": ""}).model_dump()
    )
    await engine.start()
    await engine.deliver(keyed(daily_batches(s)))
    before = await engine.counts()
    await engine.deliver(keyed([[altered]]))
    after = await engine.counts()
    with psycopg.connect(engine.db) as conn:
        conflicts = conn.execute("SELECT meter_id, ts, energy_wh FROM reading_conflicts").fetchall()
    assert (before.new, before.duplicate, before.conflict) == (len(s.readings), 0, 0)
    assert (after.new, after.duplicate, after.conflict) == (len(s.readings), 0, 1)
    assert conflicts == [("C1", noon.ts, noon.energy_wh + 5)]
    assert_exact(engine.db, [s])


async def test_bad_input_goes_to_dead_letters_and_good_input_still_lands(engine: Engine) -> None:
    """Malformed JSON, wrong types (twice), negative register, unknown meter, foreign
    provider, future: each dead-lettered with its reason and origin; the good batch lands,
    and so does the good reading of each batch with one malformed reading."""
    s = solar_series("G1", START, MAR, seed=1)
    wrong_energy = json.loads(batch_bytes(s.readings[8:10]))
    wrong_energy["readings"][0]["energy_wh"] = "lots"
    wrong_ts = json.loads(batch_bytes(s.readings[12:14]))
    wrong_ts["readings"][0]["ts"] = "yesterday"
    negative = json.loads(batch_bytes(s.readings[10:12]))
    negative["readings"][1]["energy_wh"] = -5
    negative["readings"][1]["content_hash"] = ""
    unknown = solar_series("NOPE", START, START, seed=1)
    foreign = solar_series("G1", MAR, MAR, seed=1, source_id="das-b")
    tomorrow = engine.now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(1)
    future = solar_series("G1", tomorrow, tomorrow)
    with psycopg.connect(engine.db) as conn:
        register_fleet(conn, ["G1"])
    bad: list[tuple[str, Message]] = [
        ("malformed_json", (b"G1", b"{not json")),
        ("schema_invalid", (b"G1", json.dumps(wrong_energy).encode())),
        ("schema_invalid", (b"G1", json.dumps(wrong_ts).encode())),
        ("negative_register", (b"G1", json.dumps(negative).encode())),
        ("unknown_meter", (b"NOPE", batch_bytes(unknown.readings))),
        ("provider_mismatch", (b"G1", batch_bytes(foreign.readings, source_id="das-b"))),
        ("future_timestamp", (b"G1", batch_bytes(future.readings))),
    ]
    await engine.start()
    at = await engine.deliver([m for _, m in bad] + [(b"G1", batch_bytes(s.readings[:8]))])
    counts = await engine.counts()
    with psycopg.connect(engine.db) as conn:
        dead: list[tuple[Any, ...]] = conn.execute(
            "SELECT reason_code, source_topic, source_partition, source_offset, reason, payload "
            "FROM dead_letters ORDER BY source_partition NULLS FIRST, source_offset NULLS FIRST, id"
        ).fetchall()
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
    expected = sorted(
        ((p.partition or 0, p.offset or 0, n), (code, p.topic, p.partition, p.offset))
        for n, ((code, _), p) in enumerate(zip(bad, at, strict=False))
    )
    assert [d[:4] for d in dead] == [row for _, row in expected]
    reasons = {d[0]: (d[4], bytes(d[5])) for d in dead if d[0] != "schema_invalid"}
    assert reasons["malformed_json"][1] == b"{not json"
    assert "'NOPE' is not registered" in reasons["unknown_meter"][0]
    schema = sorted(d[4] for d in dead if d[0] == "schema_invalid")
    assert ["readings[0].energy_wh" in schema[0], "readings[0].ts" in schema[1]] == [True, True]
    assert counts.refused == {
        "malformed_json": 1,
        "schema_invalid": 2,
        "negative_register": 1,
        "unknown_meter": 1,
        "provider_mismatch": 1,
        "future_timestamp": 1,
    }
    assert (counts.new, counts.duplicate, counts.conflict) == (8 + 3, 0, 0)
    assert stored == (8 + 3,)


async def test_power_tolerance_setting_decides_what_is_implausible(engine: Engine) -> None:
    """50 kW DC; 15 kWh in an hour is 15 kW, fine at nameplate × 1.2 (the default) and
    implausible at × 0.25: the engine flags it with the tolerance it was given, raw kept."""
    with psycopg.connect(engine.db) as conn:
        register_fleet(conn, ["M1", "M2"])

    def hour(meter_id: str) -> list[Reading]:
        return [
            Reading(meter_id=meter_id, ts=MAR + timedelta(hours=h), energy_wh=wh,
                    source=Source.DAS, source_id="das-a", seq=h,
                    received_at=MAR + timedelta(hours=h))
            for h, wh in ((0, 1_000), (1, 16_000))
        ]  # fmt: skip

    await engine.start(power_tolerance=Decimal("0.25"))
    await engine.deliver(keyed([hour("M1")]))
    await engine.stop()
    await engine.start()
    await engine.deliver(keyed([hour("M2")]))
    with psycopg.connect(engine.db) as conn:
        rows = conn.execute(
            "SELECT meter_id, energy_wh, flags FROM meter_interval_energy ORDER BY meter_id"
        ).fetchall()
    assert rows == [("M1", 15_000, ["implausible_power"]), ("M2", 15_000, [])]
