"""The same month in both storage modes, and what Timescale mode adds: compressed chunks,
the monthly continuous aggregate and interval retention never change a total (ADR 0006)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest

from certification.roles import Account, Role
from certification.workflows.close_month import close_month
from schemas import Reading
from storage.energy_store import monthly_totals
from stream.inprocess import InProcessEngine
from tests.support import (
    APR,
    END,
    MAR,
    START,
    MeterSeries,
    batch_bytes,
    daily_batches,
    register_fleet,
    solar_series,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, tzinfo=UTC)
CLOSE_AT = datetime(2026, 4, 7, tzinfo=UTC)  # March's reporting window has ended
ADMIN = Account("staff-1", Role.ADMIN)
LATE_DAY = datetime(2026, 3, 20, tzinfo=UTC)


def run_jobs(url: str, *procedures: str) -> None:
    """Run the database's own Timescale jobs with these procedure names, now (the fixture
    leaves them paused)."""
    with psycopg.connect(url, autocommit=True) as conn:
        ids = conn.execute(
            "SELECT job_id FROM timescaledb_information.jobs "
            "WHERE job_id >= 1000 AND proc_name = ANY(%s) ORDER BY job_id",
            (list(procedures),),
        ).fetchall()
        assert ids, f"no job runs {procedures}"
        for (job_id,) in ids:
            conn.execute("CALL run_job(%s)", (job_id,))


def maintain(url: str, mode: str) -> None:
    """What the background jobs would have done by now: compress, materialise (Timescale)."""
    if mode == "timescale":
        run_jobs(url, "policy_compression", "pts_refresh_monthly")


async def deliver(url: str, batches: list[list[Reading]]) -> None:
    async with await InProcessEngine.connect(url, clock=lambda: NOW) as engine:
        for batch in batches:
            await engine.submit(batch_bytes(batch))


def split_late(
    series: MeterSeries, rnd: random.Random | None = None
) -> tuple[list[Any], list[Any]]:
    """Daily batches of the series, each twice (once reversed): (the rest, the late day)."""
    rest: list[list[Reading]] = []
    late: list[list[Reading]] = []
    for batch in daily_batches(series, shuffle_within_hour=rnd):
        target = late if batch[0].ts.replace(hour=0, minute=0) == LATE_DAY else rest
        target += [batch, list(reversed(batch))]
    return rest, late


def analyst_months(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], int]:
    rows = conn.execute("SELECT meter_id, month, energy_wh FROM analyst_meter_monthly").fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def compressed_chunks(conn: psycopg.Connection[Any], hypertable: str) -> tuple[int, int]:
    """(compressed chunks, all chunks) of a hypertable."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE is_compressed), count(*) "
        "FROM timescaledb_information.chunks WHERE hypertable_name = %s",
        (hypertable,),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def test_redelivery_shuffle_late_rollover_swap_month_same_totals_in_both_modes(
    fresh_db: str, storage_mode: str
) -> None:
    """The month of the stream test (every batch twice, shuffled within the hour, a rollover,
    a meter swap) with its late day arriving after the rest was compressed and materialised
    (Timescale): month rows, analyst views and month close equal the truth to the Wh."""
    rollover = solar_series("ROLL", START, END, seed=7, first_register=2**32 - 600_000)
    swapped = solar_series(
        "SWAP", START, END, seed=8, swap_at=datetime(2026, 3, 14, 15, tzinfo=UTC)
    )
    plain = solar_series("PLAIN", START, END, seed=9)
    rnd = random.Random(42)
    rest: list[list[Reading]] = []
    late: list[list[Reading]] = []
    for s in (rollover, swapped, plain):
        r, lt = split_late(s, rnd)
        rest += r
        late += lt
    rnd.shuffle(rest)
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["ROLL", "SWAP", "PLAIN"])
    await deliver(fresh_db, rest)
    maintain(fresh_db, storage_mode)
    await deliver(fresh_db, late)
    with psycopg.connect(fresh_db) as conn:
        rows = monthly_totals(conn)
        views = analyst_months(conn)
        systems: dict[str, int] = dict(
            conn.execute(
                "SELECT system_id, energy_wh FROM analyst_system_monthly WHERE month = '2026-03'"
            ).fetchall()
        )
        report = close_month(conn, "2026-03", ADMIN, CLOSE_AT)
    closed = {s.system.system_id: s.energy_wh for s in report.systems}
    for s in (rollover, swapped, plain):
        march, february = s.truth(MAR, APR), s.truth(START, MAR)
        assert rows[(s.meter_id, "2026-03")] == march, s.meter_id
        assert rows[(s.meter_id, "2026-02")] == february, s.meter_id
        assert views[(s.meter_id, "2026-03")] == march, s.meter_id
        assert views[(s.meter_id, "2026-02")] == february, s.meter_id
        assert systems[f"S-{s.meter_id}"] == march, s.meter_id
        assert closed[f"S-{s.meter_id}"] == march, s.meter_id


@pytest.mark.storage_modes("timescale")
async def test_late_reading_into_a_compressed_chunk(fresh_db: str) -> None:
    """A late day lands in compressed chunks of readings and intervals: stored once, totals,
    views and month close exact, and the same again after the chunks are recompressed."""
    series = solar_series("C1", START, END, seed=3)
    rest, late = split_late(series)
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["C1"])
    await deliver(fresh_db, rest)
    run_jobs(fresh_db, "policy_compression")
    with psycopg.connect(fresh_db) as conn:
        readings_chunks = compressed_chunks(conn, "readings")
        interval_chunks = compressed_chunks(conn, "meter_interval_energy")
        late_chunk = conn.execute(
            "SELECT is_compressed FROM timescaledb_information.chunks "
            "WHERE hypertable_name = 'readings' AND range_start <= %s AND range_end > %s",
            (LATE_DAY, LATE_DAY),
        ).fetchone()
    await deliver(fresh_db, late)
    with psycopg.connect(fresh_db) as conn:
        after_late = (monthly_totals(conn), analyst_months(conn))
        count = conn.execute("SELECT count(*) FROM readings").fetchone()
    run_jobs(fresh_db, "policy_compression")
    with psycopg.connect(fresh_db) as conn:
        recompressed = (monthly_totals(conn), analyst_months(conn))
        readings_after = compressed_chunks(conn, "readings")
        report = close_month(conn, "2026-03", ADMIN, CLOSE_AT)
    march = series.truth(MAR, APR)
    assert readings_chunks == (5, 5)  # 7-day chunks from Thursday Feb 26 to Apr 2: all compressed
    assert interval_chunks == (5, 5)
    assert late_chunk == (True,)
    assert count == (len(series.readings),)
    assert after_late[0][("C1", "2026-03")] == after_late[1][("C1", "2026-03")] == march
    assert recompressed == after_late
    assert readings_after == (5, 5)
    assert [s.energy_wh for s in report.systems] == [march]


@pytest.mark.storage_modes("timescale")
async def test_monthly_aggregate_is_exact_at_once_after_a_late_reading(fresh_db: str) -> None:
    """After March is materialised with its last week missing, the late week arrives: the
    views show the new total from the commit on (the month is read from its day rows while
    stale), the aggregate itself catches up at the next refresh, which clears the note."""
    series = solar_series("F1", START, END, seed=4)
    cut = datetime(2026, 3, 25, 4, tzinfo=UTC)  # local midnight
    early = [r for r in series.readings if r.ts <= cut]
    late = [r for r in series.readings if r.ts > cut]
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["F1"])
    await deliver(fresh_db, [early[i : i + 96] for i in range(0, len(early), 96)])
    run_jobs(fresh_db, "pts_refresh_monthly")
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        before = (stale(conn), cagg_march(conn), analyst_months(conn)[("F1", "2026-03")])
        await deliver(fresh_db, [late[i : i + 96] for i in range(0, len(late), 96)])
        between = (stale(conn), cagg_march(conn), analyst_months(conn)[("F1", "2026-03")])
        run_jobs(fresh_db, "pts_refresh_monthly")
        after = (stale(conn), cagg_march(conn), analyst_months(conn)[("F1", "2026-03")])
    partial, march = series.truth(MAR, cut), series.truth(MAR, APR)
    assert partial < march
    assert before == ([], partial, partial)
    assert between == ([date(2026, 3, 1), date(2026, 4, 1)], partial, march)
    assert after == ([], march, march)


def stale(conn: psycopg.Connection[Any]) -> list[date]:
    return [r[0] for r in conn.execute("SELECT DISTINCT month FROM pts_stale_months ORDER BY 1")]


def cagg_march(conn: psycopg.Connection[Any]) -> int:
    """March of F1 as the continuous aggregate holds it (materialised, so possibly stale)."""
    row = conn.execute(
        "SELECT energy_wh FROM meter_month_cagg WHERE meter_id = 'F1' AND month = '2026-03-01'"
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.storage_modes("timescale")
async def test_interval_retention_drops_only_certified_history(fresh_db: str) -> None:
    """Interval chunks go only once older than `drop_after` and wholly before the first month
    a system has not closed; raw readings and day and month rows all stay."""
    start, end = datetime(2026, 1, 20, 5, tzinfo=UTC), datetime(2026, 2, 10, 5, tzinfo=UTC)
    series = solar_series("R1", start, end, seed=5)
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["R1"])
    await deliver(fresh_db, daily_batches(series))
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            'SELECT alter_job(job_id, config => \'{"drop_after": "1 day"}\') '
            "FROM timescaledb_information.jobs WHERE proc_name = 'pts_interval_retention'"
        )
        months_before = monthly_totals(conn)
        close_months(conn, "2020-01-01", "2025-12-01")  # January 2026 still open
        run_jobs(fresh_db, "pts_interval_retention")
        kept_while_open = interval_span(conn)
        close_months(conn, "2026-01-01", "2026-01-01")
        run_jobs(fresh_db, "pts_interval_retention")
        kept_after_close = interval_span(conn)
        readings = conn.execute("SELECT count(*) FROM readings").fetchone()
        months_after = monthly_totals(conn)
    assert kept_while_open == (len(series.readings) - 1, series.readings[1].ts)
    # 7-day chunks start on Thursdays: [Jan 15, Jan 22) and [Jan 22, Jan 29) end before the
    # cutoff (January closed: Feb 1 local, less a day), [Jan 29, Feb 5) holds Jan 31
    first_kept = datetime(2026, 1, 29, tzinfo=UTC)
    assert kept_after_close == (
        sum(1 for r in series.readings[1:] if r.ts >= first_kept),
        first_kept,
    )
    assert readings == (len(series.readings),)
    assert months_after == months_before
    assert months_after[("R1", "2026-01")] == series.truth(
        start, datetime(2026, 2, 1, 5, tzinfo=UTC)
    )


def close_months(conn: psycopg.Connection[Any], first: str, last: str) -> None:
    """Record every system's months from `first` to `last` as closed (arranged directly)."""
    conn.execute(
        "INSERT INTO month_closes (system_id, month, energy_wh, estimated, closed_by, closed_at) "
        "SELECT s.system_id, to_char(m, 'YYYY-MM'), 0, false, 'test', now() FROM systems s, "
        "generate_series(%s::date, %s::date, interval '1 month') m",
        (first, last),
    )


def interval_span(conn: psycopg.Connection[Any]) -> tuple[int, datetime]:
    row = conn.execute("SELECT count(*), min(interval_end) FROM meter_interval_energy").fetchone()
    assert row is not None
    return int(row[0]), row[1]
