"""Every writer of readings keeps the same rollups, by property: the stream's async persist
and the sync writers' `write_with_rollups` (manual reports, `pts db load`) run the same
refresh steps, so for any reading set (rollovers, resets, swaps, duplicates, late readings,
a DST change), delivered in any batching and order, their interval, day and month rows are
equal to the Wh, and equal to the direct computation over all readings."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.reading import QualityFlag, Reading, ReadingEvent, Source
from stream.calendar import daily_energy, monthly_energy
from stream.core import Triage
from stream.directory import MeterInfo, StaticDirectory
from stream.energy import PowerLimit, RegisterPoint, intervals
from stream.persist import Origin, persist
from stream.rollup_refresh import write_with_rollups
from tests.support import register_fleet

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")
START = datetime(2026, 3, 7, 5, tzinfo=UTC)  # the DST change (Mar 8) and month end inside
MOD = 10_000_000
CAPACITY = Decimal(50)
_ids = itertools.count()

# one step of the register: (hours later, kind, energy or register)
steps = st.lists(
    st.tuples(
        st.integers(1, 60),
        st.sampled_from(["plain", "plain", "plain", "wrap", "reset", "swap"]),
        st.integers(0, 40_000),
    ),
    min_size=2,
    max_size=40,
)


def readings_of(meter_id: str, plan: list[tuple[int, str, int]]) -> list[Reading]:
    """Readings of one meter from a plan of steps (a swap is a closing and an opening read)."""
    out: list[Reading] = []
    ts, register = START, MOD - 150_000

    def add(at: datetime, wh: int, **extra: Any) -> None:
        out.append(
            Reading(
                meter_id=meter_id,
                ts=at,
                energy_wh=wh,
                source=Source.DAS,
                source_id="das-a",
                seq=len(out),
                received_at=at,
                register_modulus_wh=MOD,
                **extra,
            )
        )

    add(ts, register)
    for hours, kind, energy in plan:
        ts += timedelta(hours=hours)
        if kind == "reset":
            register = energy % 1_000
            add(ts, register, flags=frozenset({QualityFlag.RESET}))
        elif kind == "swap":
            add(ts - timedelta(minutes=1), (register + energy // 2) % MOD,
                event=ReadingEvent.CLOSING)  # fmt: skip
            register = energy % 500
            add(ts, register, event=ReadingEvent.OPENING)
        else:
            register = (register + energy + (MOD if kind == "wrap" else 0)) % MOD
            add(ts, register)
    return out


def deliveries(readings: list[Reading], rnd: random.Random) -> list[list[Reading]]:
    """The readings in random batches, shuffled, some delivered twice."""
    shuffled = readings + rnd.sample(readings, k=len(readings) // 3)
    rnd.shuffle(shuffled)
    cuts = sorted(rnd.sample(range(1, len(shuffled)), k=min(4, len(shuffled) - 1)))
    return [shuffled[a:b] for a, b in itertools.pairwise([0, *cuts, len(shuffled)])]


def rollups(conn: psycopg.Connection[Any], meter_id: str) -> tuple[list[Any], ...]:
    return tuple(
        conn.execute(sql, (meter_id,)).fetchall()
        for sql in (
            "SELECT interval_start, interval_end, energy_wh, flags FROM meter_interval_energy "
            "WHERE meter_id = %s ORDER BY interval_end",
            "SELECT day, energy_wh, intervals, flags FROM meter_day_energy "
            "WHERE meter_id = %s ORDER BY day",
            "SELECT to_char(month, 'YYYY-MM'), energy_wh FROM meter_month_energy "
            "WHERE meter_id = %s ORDER BY month",
        )
    )


async def through_the_stream(url: str, meter_id: str, batches: list[list[Reading]]) -> None:
    directory = StaticDirectory(
        [MeterInfo(meter_id, f"S-{meter_id}", "America/New_York", CAPACITY, MOD, "das-a")]
    )
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as aconn:
        for batch in batches:
            await persist(aconn, directory, [(Triage(to_write=batch), Origin("test"))])


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps, seed=st.integers(0, 2**16))
def test_sync_writers_keep_the_stream_s_rollups(
    fresh_db: str, plan: list[tuple[int, str, int]], seed: int
) -> None:
    """The same readings through the stream and through write_with_rollups: equal rows."""
    n = next(_ids)
    stream_meter, sync_meter = f"A{n}", f"B{n}"
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        register_fleet(conn, [stream_meter, sync_meter])
    rnd = random.Random(seed)
    stream_readings = readings_of(stream_meter, plan)
    sync_readings = readings_of(sync_meter, plan)
    asyncio.run(through_the_stream(fresh_db, stream_meter, deliveries(stream_readings, rnd)))
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for batch in deliveries(sync_readings, random.Random(seed + 1)):
            write_with_rollups(conn, batch)
        by_stream = rollups(conn, stream_meter)
        by_writer = rollups(conn, sync_meter)
    assert by_writer == by_stream
    parts = intervals([RegisterPoint.of(r) for r in sync_readings], PowerLimit(CAPACITY))
    direct = monthly_energy(daily_energy(parts, NY))
    assert dict(by_writer[2]) == {m: e.energy_wh for m, e in direct.items()}
