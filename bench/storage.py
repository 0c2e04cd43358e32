"""Storage benchmark: the project's idempotent writer beside a raw COPY into the same table.

    python bench/storage.py [--readings 1000000] [--batch 10000] [--url URL]

Both write the same prepared rows into a freshly migrated `readings` table (same partitions,
same unique (meter_id, ts) index), in batches of the same size, each batch its own
transaction. The raw COPY is the ceiling: it does no dedupe, no conflict check and would fail
on a redelivery. A third figure is the writer fed pydantic `Reading` objects (the row
conversion included). Prints rows/s side by side and the writer's share of the ceiling.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the package it measures; keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from schemas.reading import Reading, Source, content_hash
from storage.migrate import migrate
from storage.writer import _COLS, COPY_TYPES, ReadingRow, reading_to_row, write_readings, write_rows

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def make_rows(count: int, meters: int) -> list[ReadingRow]:
    steps = count // meters
    rows: list[ReadingRow] = []
    for m in range(meters):
        meter = f"bench-m{m:05d}"
        for i in range(steps):
            ts = T0 + timedelta(minutes=5 * i)
            energy = 10_000_000 + i * 417
            rows.append(
                (meter, ts, energy, "gateway", "gw-bench", m * steps + i, ts, 1, 0,
                 [energy >> 16 & 0xFFFF, energy & 0xFFFF], 2**32, None, [],
                 content_hash(meter, ts, energy))
            )  # fmt: skip
    return rows


def fresh_database(admin_url: str) -> str:
    name = f"pts_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    migrate(url)
    return url


def drop_database(admin_url: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def batches(rows: list[Any], size: int) -> list[list[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def raw_copy(url: str, rows: list[ReadingRow], batch: int) -> float:
    with psycopg.connect(url) as conn:
        conn.execute("SELECT pts_ensure_reading_partition(%s)", (T0,))
        conn.execute("SELECT pts_ensure_reading_partition(%s)", (T0 + timedelta(days=40),))
        conn.commit()
        start = time.perf_counter()
        for chunk in batches(rows, batch):
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY readings ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(list(COPY_TYPES))
                for row in chunk:
                    copy.write_row(row)
        return time.perf_counter() - start


def writer_rows(url: str, rows: list[ReadingRow], batch: int) -> float:
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        for chunk in batches(rows, batch):
            write_rows(conn, chunk)
        return time.perf_counter() - start


def writer_readings(url: str, readings: list[Reading], batch: int) -> float:
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        for chunk in batches(readings, batch):
            write_readings(conn, chunk)
        return time.perf_counter() - start


def redelivery(url: str, rows: list[ReadingRow], batch: int) -> float:
    """The writer again over rows already stored: every row is a duplicate."""
    return writer_rows(url, rows, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument(
        "--url",
        default=os.environ.get("PTS_TEST_DATABASE_URL", "postgresql://pts@127.0.0.1:15432/pts"),
    )
    args = parser.parse_args()

    rows = make_rows(args.readings, args.meters)
    n = len(rows)
    print(
        f"{n:,} readings, {args.meters} meters, batches of {args.batch:,}; PostgreSQL at {args.url}"
    )
    results: list[tuple[str, float]] = []

    url = fresh_database(args.url)
    try:
        results.append(("raw COPY into readings (ceiling)", raw_copy(url, rows, args.batch)))
    finally:
        drop_database(args.url, url)

    url = fresh_database(args.url)
    try:
        results.append(("writer, new rows (optimistic COPY)", writer_rows(url, rows, args.batch)))
        results.append(
            ("writer, all rows redelivered (dedupe path)", redelivery(url, rows, args.batch))
        )
    finally:
        drop_database(args.url, url)

    sample = rows[: min(n, 200_000)]
    readings = [
        Reading(meter_id=r[0], ts=r[1], energy_wh=r[2], source=Source.GATEWAY, source_id=r[4],
                seq=r[5], received_at=r[6], unit_id=r[7], scale_factor=r[8],
                raw_words=tuple(r[9]), register_modulus_wh=r[10])
        for r in sample
    ]  # fmt: skip
    assert [reading_to_row(x)[13] for x in readings[:3]] == [r[13] for r in sample[:3]]
    url = fresh_database(args.url)
    try:
        elapsed = writer_readings(url, readings, args.batch)
        results.append(
            (f"writer from Reading objects ({len(readings):,})", elapsed * n / len(readings))
        )
    finally:
        drop_database(args.url, url)

    ceiling = n / results[0][1]
    print(f"{'path':<45} {'rows/s':>12} {'of ceiling':>11}")
    for name, elapsed in results:
        rate = n / elapsed
        print(f"{name:<45} {rate:>12,.0f} {rate / ceiling:>10.0%}")


if __name__ == "__main__":
    main()
