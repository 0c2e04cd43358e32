"""The late-reading check's count (storage.reading_counts): per (meter, first, last) span,
the readings in force in [first, last], equal to a count over `readings_in_force` whatever
the spans' bounds, and in timescale mode whether the chunks are compressed or not."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from schemas import Reading, Source
from storage.reading_counts import count_in_spans
from storage.writer import write_readings

pytestmark = pytest.mark.integration
START = datetime(2025, 1, 1, 5, tzinfo=UTC)


def reading(meter_id: str, ts: datetime, wh: int) -> Reading:
    return Reading(meter_id=meter_id, ts=ts, energy_wh=wh, source=Source.DAS,
                   source_id="das-a", seq=wh, received_at=ts)  # fmt: skip


def by_view(conn: psycopg.Connection[Any], span: tuple[str, datetime, datetime]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM readings_in_force WHERE meter_id = %s AND ts >= %s AND ts <= %s",
        span,
    ).fetchone()
    assert row is not None
    return int(row[0])


def withdraw(
    conn: psycopg.Connection[Any], meter_id: str, ts: datetime, replacement: int | None
) -> None:
    conn.execute(
        "INSERT INTO reading_withdrawals (meter_id, ts, withdrawn_wh, replacement_wh, month, "
        "reason, withdrawn_by, withdrawn_at) VALUES (%s, %s, 0, %s, '2025-01', 'typo', 'rep', "
        "%s)",
        (meter_id, ts, replacement, ts),
    )


def test_counts_equal_the_view_with_withdrawals_and_compressed_chunks(
    fresh_db: str, storage_mode: str
) -> None:
    """Three meters of hourly readings over 70 days; M-1's reading at +10 h withdrawn with
    nothing in its place (not counted), at +20 h withdrawn with a replacement (counted), at
    +30 h withdrawn, then withdrawn again with a replacement (the latest decides: counted);
    a withdrawal naming no reading subtracts nothing. Spans: a fleet's month (shared
    bounds), random bounds, the same span twice, a meter with no reading, bounds on a
    reading's instant. Counted before and (timescale) after compressing every chunk."""
    rnd = random.Random(7)
    hours = 70 * 24
    with psycopg.connect(fresh_db) as conn:
        write_readings(
            conn,
            [
                reading(m, START + timedelta(hours=h), h * 10)
                for m in ("M-1", "M-2", "M-3")
                for h in range(hours)
            ],
        )
        withdraw(conn, "M-1", START + timedelta(hours=10), None)
        withdraw(conn, "M-1", START + timedelta(hours=20), 999)
        withdraw(conn, "M-1", START + timedelta(hours=30), None)
        withdraw(conn, "M-1", START + timedelta(hours=30), 888)
        withdraw(conn, "M-2", START + timedelta(minutes=30), None)  # names no reading
        conn.commit()
        month = (START, START + timedelta(days=31))
        spans = [(m, *month) for m in ("M-1", "M-2", "M-3", "M-NONE")]
        spans.append(("M-1", START + timedelta(hours=10), START + timedelta(hours=10)))
        spans.append(("M-1", START + timedelta(hours=9), START + timedelta(hours=31)))
        spans.append(spans[0])
        for _ in range(20):
            lo = START + timedelta(minutes=rnd.randint(-600, hours * 60))
            hi = lo + timedelta(minutes=rnd.randint(0, 40 * 24 * 60))
            spans.append((rnd.choice(["M-1", "M-2", "M-3"]), lo, hi))
        want = [by_view(conn, s) for s in spans]
        assert want[:7] == [745 - 1, 745, 745, 0, 0, 23 - 1, 745 - 1]  # both ends counted
        assert count_in_spans(conn, spans) == want
        if storage_mode == "timescale":
            conn.execute("SELECT compress_chunk(c) FROM show_chunks('readings') c")
            conn.commit()
            assert count_in_spans(conn, spans) == want
        assert count_in_spans(conn, []) == []
