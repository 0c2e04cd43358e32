"""Month close benchmark: seconds per system to close a month of 15-minute readings.

    python bench/month_close.py [--systems 100] [--runs 3] [--url ADMIN_URL] [--reload]
                                [--profile N]

Loads once a plain-mode database `pts_bench_month_close_<systems>` (kept; `--reload` rebuilds
it): one 50 kW automatic system per meter in America/New_York and a 15-minute cumulative
register per meter from 2025-05-31 to 2025-07-02 local (the same daytime production as
bench/analyst.py). Then closes June for every system inside a transaction that is rolled back
(best of `--runs`), beside its ceiling: fetching the same readings alone (the query month close
makes, no rules). `--profile N` prints the N costliest functions of one close (cProfile).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/storage.py beside this file would shadow the storage package: drop this folder from
# the import path before importing (the imports below therefore come after code).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for bench.bench_fleet

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import psycopg  # noqa: E402

from bench.bench_fleet import load_readings, load_registry, meter_id  # noqa: E402
from certification.roles import Account, Role  # noqa: E402
from certification.workflows.close_month import close_month  # noqa: E402
from storage import reading_points  # noqa: E402
from storage.migrate import migrate  # noqa: E402
from stream.calendar import month_bounds  # noqa: E402

TZ = "America/New_York"
MONTH = "2025-06"
ADMIN = Account("bench-admin", Role.ADMIN)


def database_url(admin_url: str, systems: int, reload: bool) -> str:
    """The loaded benchmark database (loaded now when missing or when `reload`)."""
    name = f"pts_bench_month_close_{systems}"
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not reload:
            migrate(url, "plain", schedule_jobs=False)  # later migrations, if any
            return url
        if exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate(url, "plain", schedule_jobs=False)
    started = time.perf_counter()
    lo = datetime(2025, 5, 31, tzinfo=ZoneInfo(TZ))
    hi = datetime(2025, 7, 2, tzinfo=ZoneInfo(TZ))
    with psycopg.connect(url, autocommit=True) as conn:
        load_registry(conn, systems, TZ)
        conn.execute("SELECT pts_ensure_reading_partition(%s)", (lo,))
        conn.execute(
            "SELECT pts_ensure_reading_partition(%s)", (datetime(2025, 6, 15, tzinfo=UTC),)
        )
        conn.execute("SELECT pts_ensure_reading_partition(%s)", (hi,))
        for m in range(1, systems + 1):
            load_readings(conn, m, lo, hi, TZ, register_modulus_wh=2**32)
        conn.execute("VACUUM ANALYZE")
    print(f"loaded {systems} meters in {time.perf_counter() - started:.0f} s", flush=True)
    return url


def best_of(runs: int, fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall-clock seconds, this process's CPU seconds) of the fastest run: on a busy machine
    the CPU seconds are the steadier figure of the Python work."""
    best, cpu = float("inf"), float("inf")
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    return best, cpu


def close_all(conn: psycopg.Connection[Any]) -> list[tuple[str, int]]:
    """Close June for every system, rolled back so the next run closes it again."""
    with conn.transaction(force_rollback=True):
        report = close_month(conn, MONTH, ADMIN, datetime.now(UTC))
    return sorted((s.system.system_id, s.energy_wh) for s in report.systems)


def fetch_only(conn: psycopg.Connection[Any], systems: int) -> int:
    """The ceiling: the readings month close reads (same query, batches of 50), no rules."""
    start, end = month_bounds(MONTH, ZoneInfo(TZ))
    ids = [meter_id(m) for m in range(1, systems + 1)]
    rows = 0
    for first in range(0, len(ids), 50):
        found = reading_points.month_points(conn, ids[first : first + 50], start, end)
        rows += sum(len(r) for r in found.values())
    conn.rollback()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--systems", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", default="postgresql://pts@127.0.0.1:15432/postgres")
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args()
    url = database_url(args.url, args.systems, args.reload)
    with psycopg.connect(url) as conn:
        close_s = best_of(args.runs, lambda: close_all(conn))
        fetch_s = best_of(args.runs, lambda: fetch_only(conn, args.systems))
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(close_all, conn)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
    n = args.systems
    print(f"month close of {n} systems (June, 15-minute readings), best of {args.runs}:")
    for label, (wall, cpu) in (("close", close_s), ("ceiling: reading the points only", fetch_s)):
        print(
            f"  {label}: {wall:.2f} s = {wall / n * 1000:.1f} ms per system "
            f"(Python CPU {cpu:.2f} s = {cpu / n * 1000:.1f} ms per system)"
        )


if __name__ == "__main__":
    main()
