"""The one points query (storage.reading_points): for any window, a meter's readings inside
it plus the one before and the one after, however far away, whichever entry point asks
(the stream's per-span look-up, month close's month, an audit's "until")."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from schemas import Reading, Source
from storage import reading_points
from storage.reading_points import RESOLUTION, month_points, points, points_async, points_until
from storage.writer import write_readings

pytestmark = pytest.mark.integration
STORAGE = Path(reading_points.__file__).parent


def reading(meter_id: str, ts: datetime, wh: int) -> Reading:
    return Reading(meter_id=meter_id, ts=ts, energy_wh=wh, source=Source.DAS,
                   source_id="das-a", seq=wh, received_at=ts)  # fmt: skip


def expected(
    series: list[tuple[datetime, int]], lo: datetime, hi: datetime
) -> list[tuple[datetime, int]]:
    """By hand: inside [lo, hi], the last before lo, the first after hi."""
    before = [p for p in series if p[0] < lo][-1:]
    after = [p for p in series if p[0] > hi][:1]
    return before + [p for p in series if lo <= p[0] <= hi] + after


def test_every_entry_point_brackets_like_the_definition(fresh_db: str) -> None:
    """Sparse random readings (minutes to four months apart): per-span points (bounded and
    not, sync and async), month points and points until an instant equal the hand-made set."""
    rnd = random.Random(11)
    series: dict[str, list[tuple[datetime, int]]] = {}
    for meter in ("M-1", "M-2", "M-3"):
        ts, wh, rows = (
            datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=rnd.randint(0, 900)),
            0,
            [],
        )
        while ts < datetime(2025, 12, 1, tzinfo=UTC):
            rows.append((ts, wh))
            gap = rnd.choice([900, 3600, 86_400, 40 * 86_400, 120 * 86_400])
            ts, wh = ts + timedelta(seconds=rnd.randint(1, gap)), wh + rnd.randint(0, 5000)
        series[meter] = rows
    series["M-NONE"] = []
    with psycopg.connect(fresh_db) as conn:
        write_readings(conn, [reading(m, t, wh) for m, rows in series.items() for t, wh in rows])
        conn.commit()
        checked = 0
        for _ in range(25):
            lo = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=rnd.randint(0, 700))
            hi = lo + timedelta(days=rnd.choice([1, 30, 75, 200]))
            spans = [(m, lo, hi) for m in series]
            want = {m: expected(rows, lo, hi) for m, rows in series.items()}

            def plain(
                found: dict[str, list[reading_points.PointRow]],
            ) -> dict[str, list[tuple[datetime, int]]]:
                return {m: [(p.ts, p.energy_wh) for p in rows] for m, rows in found.items()}

            assert plain(points(conn, spans)) == want
            assert plain(points(conn, spans, timedelta(days=62))) == want
            assert plain(month_points(conn, list(series), lo, hi + RESOLUTION)) == want
            for meter, rows in series.items():
                until = [(p.ts, p.energy_wh) for p in points_until(conn, meter, hi)]
                assert until == [p for p in rows if p[0] <= hi] + [p for p in rows if p[0] > hi][:1]
            checked += sum(len(rows) for rows in want.values())

    async def from_the_stream() -> dict[str, list[reading_points.PointRow]]:
        async with await psycopg.AsyncConnection.connect(fresh_db) as aconn:
            return await points_async(aconn, spans)

    assert plain(asyncio.run(from_the_stream())) == want
    assert checked > 300  # the comparisons were not all of empty lists


def test_no_other_storage_module_writes_the_points_query() -> None:
    """energy_store and certification_store read points through reading_points."""
    writers = sorted(
        path.name
        for path in STORAGE.glob("*.py")
        if "event, register_modulus_wh, flags" in path.read_text()
    )
    assert writers == ["reading_points.py"]
