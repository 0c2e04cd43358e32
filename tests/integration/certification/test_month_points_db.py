"""The readings month close reads, fetched for all of a system's meters at once with the
look-ups before and after the month bounded in time (chunk/partition pruning), are exactly
the readings the unbounded per-meter query returns: the month's readings plus the one before
and the one at or after its end, however far away those are (manual meters report a month
or more apart; a silent meter may resume after months)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from schemas import Reading, Source
from storage.reading_points import PointRow, month_points
from storage.writer import write_readings

pytestmark = pytest.mark.integration

# the query month close used before batching: one meter, unbounded before/after look-ups
_UNBOUNDED = """
(SELECT ts, energy_wh, event, register_modulus_wh, flags FROM readings
  WHERE meter_id = %(m)s AND ts < %(lo)s ORDER BY ts DESC LIMIT 1)
UNION ALL
(SELECT ts, energy_wh, event, register_modulus_wh, flags FROM readings
  WHERE meter_id = %(m)s AND ts >= %(lo)s AND ts < %(hi)s)
UNION ALL
(SELECT ts, energy_wh, event, register_modulus_wh, flags FROM readings
  WHERE meter_id = %(m)s AND ts >= %(hi)s ORDER BY ts LIMIT 1)
"""


def reading(meter_id: str, ts: datetime, wh: int) -> Reading:
    return Reading(
        meter_id=meter_id,
        ts=ts,
        energy_wh=wh,
        source=Source.DAS,
        source_id="das-a",
        seq=wh,
        received_at=ts,
    )


def unbounded(
    conn: psycopg.Connection[Any], meter_id: str, lo: datetime, hi: datetime
) -> list[PointRow]:
    rows = conn.execute(_UNBOUNDED, {"m": meter_id, "lo": lo, "hi": hi}).fetchall()
    return sorted(PointRow(r[0], int(r[1]), r[2], r[3], list(r[4])) for r in rows)


def test_far_neighbours_are_found_beyond_the_bound(fresh_db: str) -> None:
    """A manual meter read 100 days before and 100 days after the month, one read inside
    it, one meter with no readings, one with its neighbours close by."""
    lo, hi = datetime(2025, 6, 1, 4, tzinfo=UTC), datetime(2025, 7, 1, 4, tzinfo=UTC)
    far_before, inside, far_after = (
        lo - timedelta(days=100),
        lo + timedelta(days=10),
        hi + timedelta(days=100),
    )
    near = [
        lo - timedelta(minutes=15),
        lo,
        hi - timedelta(minutes=15),
        hi,
        hi + timedelta(minutes=15),
    ]
    with psycopg.connect(fresh_db) as conn:
        write_readings(
            conn,
            [reading("M-FAR", t, n * 1000) for n, t in enumerate([far_before, inside, far_after])]
            + [reading("M-NEAR", t, n * 10) for n, t in enumerate(near)],
        )
        conn.commit()
        got = month_points(conn, ["M-FAR", "M-NEAR", "M-NONE"], lo, hi)
    assert {m: [(p.ts, p.energy_wh) for p in rows] for m, rows in got.items()} == {
        "M-FAR": [(far_before, 0), (inside, 1000), (far_after, 2000)],
        "M-NEAR": [(near[0], 0), (near[1], 10), (near[2], 20), (near[3], 30)],
        "M-NONE": [],
    }


def test_same_points_as_the_unbounded_query(fresh_db: str) -> None:
    """Sparse random readings (minutes to four months apart) on four meters: for many
    months and starting points, every meter's points equal the unbounded query's."""
    rnd = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    readings = []
    for meter in ("M-1", "M-2", "M-3", "M-4"):
        ts, wh = start + timedelta(hours=rnd.randint(0, 2000)), 0
        while ts < datetime(2026, 6, 1, tzinfo=UTC):
            readings.append(reading(meter, ts, wh))
            gap = rnd.choice([15 * 60, 3600, 86_400, 30 * 86_400, 50 * 86_400, 120 * 86_400])
            ts, wh = ts + timedelta(seconds=rnd.randint(1, gap)), wh + rnd.randint(0, 5000)
    meters = ["M-1", "M-2", "M-3", "M-4", "M-NONE"]
    with psycopg.connect(fresh_db) as conn:
        write_readings(conn, readings)
        conn.commit()
        checked = 0
        for month in range(32):
            hi = datetime(2023 + (month + 12) // 12, (month + 12) % 12 + 1, 1, 5, tzinfo=UTC)
            lo = hi - timedelta(days=rnd.choice([28, 30, 31, 75, 200]))
            got = month_points(conn, meters, lo, hi)
            expected = {m: unbounded(conn, m, lo, hi) for m in meters}
            assert got == expected, (lo, hi)
            checked += sum(len(rows) for rows in got.values())
    assert checked > 500  # the comparisons were not all of empty lists
