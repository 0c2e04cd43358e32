"""Month close and the late-reading check over a year-long fleet, plain PostgreSQL beside
TimescaleDB with the old months' chunks compressed, each beside its ceiling.

    python bench/late_check.py [--systems 1000] [--rounds 3] [--url ADMIN_URL] [--reload]
                               [--modes plain,timescale] [--skip-close]

Loads once per mode a database `pts_bench_late_<mode>_<systems>` (kept; `--reload` rebuilds
it): the benchmark fleet (bench/bench_fleet.py: one 50 kW automatic system per meter in
America/New_York, 15-minute cumulative registers) from 2024-12-31 to 2026-01-02 local, and
January to November 2025 closed for every system. The closes are written straight into
`month_closes` from the readings (one statement per month, the per-meter detail a real close
stores: first and last reading, energy, readings in the span); the bench then checks that
the late-reading check finds every one unchanged, as it would after real closes.
Timescale: every chunk before 2025-12-01 is compressed (what the compression policy does to
months that old); December, the month being closed, is not.

Measured in alternating order (plain, timescale, then timescale, plain, ...) so the
machine's drifting load falls on both modes alike, `--rounds` times:
(1) the late-reading check of the eleven closed months of every system
    (certification.workflows.late_readings.check_closed_months, batches of 50 systems as a
    close makes it), rolled back, with today's count (storage.reading_counts) and with the
    count it replaced (a correlated count per span through `readings_in_force`, "before");
    ceiling: one bare `SELECT count(*)` over the same rows
    (every reading of the closed months' spans) — what any check that reads the readings of
    every closed month must at least touch;
(2) the month close of December for every system (certification close_month, which runs
    the late check of (1) too), rolled back; ceiling: fetching the points December is
    counted from (storage.reading_points.month_points, batches of 50), no rules.
Prints the median and the range of each, and the load average before and after.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/storage.py beside this file would shadow the storage package: drop this folder from
# the import path before importing (the imports below therefore come after code).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for bench.bench_fleet

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from functools import partial  # noqa: E402
from typing import Any  # noqa: E402
from unittest.mock import patch  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import psycopg  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from bench.bench_fleet import load_readings, load_registry, meter_id  # noqa: E402
from certification.month_close import Thresholds  # noqa: E402
from certification.roles import Account, Role  # noqa: E402
from certification.workflows.close_month import BATCH_SYSTEMS, close_month  # noqa: E402
from certification.workflows.late_readings import check_closed_months  # noqa: E402
from storage import (  # noqa: E402
    certification_store,
    reading_counts,
    reading_points,
    registry_store,
)
from storage.migrate import migrate  # noqa: E402
from stream.calendar import month_bounds  # noqa: E402

TZ = "America/New_York"
CLOSED = [f"2025-{m:02d}" for m in range(1, 12)]  # closed at load
MONTH = "2025-12"  # closed by the bench (rolled back)
COMPRESS_BEFORE = datetime(2025, 12, 1, tzinfo=UTC)
ADMIN = Account("bench-admin", Role.ADMIN)
NOW = datetime(2026, 2, 1, tzinfo=UTC)  # the closes' and checks' `now`

_CLOSE_ROWS = """
SELECT meter_id, count(*) FILTER (WHERE ts < %(end)s),  count(*),
       min(energy_wh) FILTER (WHERE ts = %(start)s), min(energy_wh) FILTER (WHERE ts = %(end)s)
FROM readings WHERE ts >= %(start)s AND ts <= %(end)s GROUP BY meter_id ORDER BY meter_id
"""


def database_url(
    admin_url: str, mode: str, systems: int, reload: bool, source: str | None = None
) -> str:
    """The loaded benchmark database of this mode (loaded now when missing or `reload`)."""
    name = f"pts_bench_late_{mode}_{systems}"
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not reload:
            with psycopg.connect(url) as db:
                done = db.execute("SELECT to_regclass('bench_loaded')").fetchone()
            if done and done[0]:
                migrate(url, mode, schedule_jobs=False)  # later migrations, if any
                return url
        if exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    load(url, mode, systems, source)
    return url


def load(url: str, mode: str, systems: int, source: str | None = None) -> None:
    """Migrate and load the fleet; its readings copied from the database at `source` when
    given (loaded the same way), else generated (bench/bench_fleet.py)."""
    migrate(url, mode, schedule_jobs=False)
    started = time.perf_counter()
    tz = ZoneInfo(TZ)
    lo, hi = datetime(2024, 12, 31, tzinfo=tz), datetime(2026, 1, 2, tzinfo=tz)
    with psycopg.connect(url, autocommit=True) as conn:
        load_registry(conn, systems, TZ)
        conn.execute(
            "SELECT pts_ensure_reading_partition(m) FROM generate_series(%s::timestamptz, "
            "%s::timestamptz, interval '1 month') m",
            (lo - timedelta(days=1), hi + timedelta(days=31)),
        )
        if source is not None:
            copy_readings(source, conn)
        for m in range(1, systems + 1 if source is None else 1):
            load_readings(conn, m, lo, hi, TZ, register_modulus_wh=2**32)
            if m % 100 == 0:
                print(f"  {mode}: {m}/{systems} meters loaded", flush=True)
        conn.execute("VACUUM ANALYZE")
        print(f"  {mode}: readings in {time.perf_counter() - started:.0f} s", flush=True)
        write_closes(conn)
        if mode == "timescale":
            chunks = conn.execute(
                "SELECT compress_chunk(c) FROM show_chunks('readings', older_than => %s) c",
                (COMPRESS_BEFORE,),
            ).fetchall()
            print(f"  {mode}: {len(chunks)} chunks compressed", flush=True)
            conn.execute("VACUUM ANALYZE")
        conn.execute("CREATE TABLE bench_loaded AS SELECT now() AS at")
    print(f"  {mode}: loaded in {time.perf_counter() - started:.0f} s", flush=True)


def copy_readings(source: str, conn: psycopg.Connection[Any]) -> None:
    """Every reading of the database at `source`, binary-copied into `conn`'s."""
    with (
        psycopg.connect(source) as src,
        src.cursor().copy("COPY (SELECT * FROM readings) TO STDOUT (FORMAT BINARY)") as out,
        conn.cursor().copy("COPY readings FROM STDIN (FORMAT BINARY)") as into,
    ):
        for data in out:
            into.write(data)


def write_closes(conn: psycopg.Connection[Any]) -> None:
    """January to November closed for every system, with the detail a close stores."""
    limit = ["50", str(Thresholds().power_tolerance)]
    for month in CLOSED:
        start, end = month_bounds(month, ZoneInfo(TZ))
        rows = conn.execute(_CLOSE_ROWS, {"start": start, "end": end}).fetchall()
        closes = []
        for meter, inside, span, first_wh, last_wh in rows:
            energy = int(last_wh) - int(first_wh)
            detail = {
                "meter_id": meter,
                "energy_wh": energy,
                "readings": int(inside),
                "covered": True,
                "estimated": False,
                "first": [start.isoformat(), int(first_wh)],
                "last": [end.isoformat(), int(last_wh)],
                "end_at": end.isoformat(),
                "flags": [],
                "span_readings": int(span),
                "power_limit": limit,
            }
            system = "S-" + meter[2:]
            closes.append((system, month, energy, Jsonb([detail]), NOW, energy))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO month_closes (system_id, month, energy_wh, estimated, findings, "
                "meters, closed_by, closed_at, certified_wh, held_by) "
                "VALUES (%s, %s, %s, false, '[]', %s, 'bench', %s, %s, '{}')",
                closes,
            )


def late_check(conn: psycopg.Connection[Any]) -> int:
    """The late check of every system's closed months (batches as a close makes them),
    rolled back; the number of months it held (0: the closes are what the readings say)."""
    systems = registry_store.list_systems(conn)
    held = 0
    with conn.transaction(force_rollback=True):
        for first in range(0, len(systems), BATCH_SYSTEMS):
            batch = [
                (s, certification_store.closes_of(conn, s.system_id))
                for s in systems[first : first + BATCH_SYSTEMS]
            ]
            found = check_closed_months(conn, batch, "late:bench", Thresholds(), NOW)
            held += sum(len(f) for f in found.values())
    return held


def late_check_before(conn: psycopg.Connection[Any]) -> int:
    """`late_check` counting as it did before storage.reading_counts: one correlated count
    per span through `readings_in_force` (storage.certification_store.count_readings_in)."""
    with patch.object(reading_counts, "count_in_spans", certification_store.count_readings_in):
        return late_check(conn)


def count_ceiling(conn: psycopg.Connection[Any]) -> int:
    """Every reading of the closed months' spans, counted by one bare statement."""
    start, _ = month_bounds(CLOSED[0], ZoneInfo(TZ))
    _, end = month_bounds(CLOSED[-1], ZoneInfo(TZ))
    row = conn.execute(
        "SELECT count(*) FROM readings WHERE ts >= %s AND ts <= %s", (start, end)
    ).fetchone()
    conn.rollback()
    return int(row[0]) if row else 0


def close_all(conn: psycopg.Connection[Any]) -> int:
    """Close December for every system, rolled back; the number of systems closed."""
    with conn.transaction(force_rollback=True):
        report = close_month(conn, MONTH, ADMIN, NOW)
    return len(report.systems)


def fetch_ceiling(conn: psycopg.Connection[Any], systems: int) -> int:
    """The points December is counted from (same query, batches of 50), no rules."""
    start, end = month_bounds(MONTH, ZoneInfo(TZ))
    ids = [meter_id(m) for m in range(1, systems + 1)]
    rows = 0
    for first in range(0, len(ids), BATCH_SYSTEMS):
        found = reading_points.month_points(conn, ids[first : first + BATCH_SYSTEMS], start, end)
        rows += sum(len(r) for r in found.values())
    conn.rollback()
    return rows


def timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    """(wall-clock s, this process's CPU s, the answer)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    answer = fn()
    return time.perf_counter() - started, time.process_time() - started_cpu, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--systems", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default="postgresql://pts@127.0.0.1:15432/postgres")
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--modes", default="plain,timescale")
    parser.add_argument("--skip-close", action="store_true", help="measure the late check only")
    args = parser.parse_args()
    modes = args.modes.split(",")
    urls: dict[str, str] = {}
    for mode in modes:  # a later mode copies the readings of the first (same rows, faster)
        source = next(iter(urls.values()), None)
        urls[mode] = database_url(args.url, mode, args.systems, args.reload, source)
    conns = {mode: psycopg.connect(url) for mode, url in urls.items()}
    figures: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    print(f"load average before: {os.getloadavg()}", flush=True)
    tasks: list[tuple[str, Callable[[psycopg.Connection[Any]], int]]] = [
        ("late check, before (a count per span)", late_check_before),
        ("late check", late_check),
        ("ceiling: count(*) of those readings", count_ceiling),
    ]
    if not args.skip_close:
        tasks += [
            ("close of December (late check included)", close_all),
            ("ceiling: December's points", lambda c: fetch_ceiling(c, args.systems)),
        ]
    for n in range(args.rounds):
        order = modes if n % 2 == 0 else modes[::-1]
        for label, fn in tasks:
            for mode in order:
                conn = conns[mode]
                result = timed(partial(fn, conn))
                figures.setdefault((label, mode), []).append(result)
                print(
                    f"  round {n + 1} {mode:<9} {label}: {result[0]:.2f} s "
                    f"(CPU {result[1]:.2f} s, answer {result[2]:,})",
                    flush=True,
                )
    print(f"load average after: {os.getloadavg()}")
    if not args.rounds:
        return  # loaded only
    print(
        f"\n{args.systems} systems, 15-minute readings 2024-12-31..2026-01-02 "
        f"({', '.join(modes)}; timescale: chunks before 2025-12 compressed), "
        f"{args.rounds} alternating rounds, median (min-max) wall-clock s:"
    )
    print(f"{'':<44}" + "".join(f"{m:>26}" for m in modes))
    for label, _ in tasks:
        cells = []
        for mode in modes:
            walls = [w for w, _, _ in figures[(label, mode)]]
            cells.append(f"{statistics.median(walls):.2f} ({min(walls):.2f}-{max(walls):.2f})")
        print(f"{label:<44}" + "".join(f"{c:>26}" for c in cells))
    for mode in modes:
        conns[mode].close()


if __name__ == "__main__":
    main()
