"""Analyst benchmark: the questions analysts ask, in plain and Timescale mode side by side,
each beside the same answer from one plain GROUP BY over `readings` (the naive ceiling).

    python bench/analyst.py [--meters 500] [--days 365] [--url ADMIN_URL] [--reload]

Loads once, per mode, a database `pts_bench_analyst_<mode>_<meters>x<days>` (kept for later
runs; `--reload` rebuilds it): one 50 kW system per meter in America/New_York, a 15-minute
cumulative register per meter over `days` local days from 2025-01-01, and the derived rows
the stream would have written (intervals, local days, months; the grid meets local midnight,
so no interval needs splitting). Timescale: the monthly aggregate is refreshed by its job and
the compression jobs compress readings and intervals (sizes before and after are printed).

Figures, best of three runs each:
(a) one system's monthly production for the year  (analyst_system_monthly)
(b) fleet daily production for a month             (analyst_system_daily)
(c) month close of every system for that month     (certification close_month, rolled back)
Each answer is checked equal to its naive GROUP BY before it is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/storage.py beside this file would shadow the storage package: drop this folder from
# the import path before importing (the imports below therefore come after code).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for bench.bench_fleet

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402

from bench.bench_fleet import load_readings, load_registry, meter_id  # noqa: E402
from certification.roles import Account, Role  # noqa: E402
from certification.workflows.close_month import close_month  # noqa: E402
from storage.migrate import migrate  # noqa: E402

TZ = "America/New_York"
FIRST_DAY = "2025-01-01"
MONTH = "2025-06"  # the month of (b) and (c)
ADMIN = Account("bench-admin", Role.ADMIN)
Answer = list[tuple[Any, ...]]

_INTERVALS = """
INSERT INTO meter_interval_energy (meter_id, interval_start, interval_end, energy_wh)
SELECT meter_id, prev_ts, ts, energy_wh - prev_wh
FROM (SELECT meter_id, ts, energy_wh, lag(ts) OVER w AS prev_ts, lag(energy_wh) OVER w AS prev_wh
      FROM readings WHERE meter_id = %(meter)s WINDOW w AS (ORDER BY ts)) x
WHERE prev_ts IS NOT NULL
"""
_DAYS = """
INSERT INTO meter_day_energy (meter_id, day, energy_wh, intervals)
SELECT meter_id, ((interval_end - interval '1 microsecond') AT TIME ZONE %(tz)s)::date,
       sum(energy_wh), count(*)
FROM meter_interval_energy GROUP BY 1, 2
"""
_MONTHS = """
INSERT INTO meter_month_energy (meter_id, month, energy_wh, days)
SELECT meter_id, date_trunc('month', day)::date, sum(energy_wh), count(*)
FROM meter_day_energy GROUP BY 1, 2
"""

# the naive ceiling: energy from register differences, one GROUP BY over raw readings
_DELTAS = """
SELECT r.meter_id, r.ts, r.energy_wh - lag(r.energy_wh) OVER (PARTITION BY r.meter_id
       ORDER BY r.ts) AS wh
FROM readings r {where}
"""
NAIVE_A = f"""
SELECT to_char((ts - interval '1 microsecond') AT TIME ZONE %(tz)s, 'YYYY-MM') AS month,
       sum(wh)::bigint
FROM ({_DELTAS.format(where="WHERE r.meter_id = %(meter)s")}) d
WHERE wh IS NOT NULL GROUP BY 1 ORDER BY 1
"""
VIEW_A = """
SELECT month, energy_wh FROM analyst_system_monthly WHERE system_id = %(system)s ORDER BY month
"""
NAIVE_B = f"""
SELECT ((ts - interval '1 microsecond') AT TIME ZONE %(tz)s)::date AS day, sum(wh)::bigint
FROM ({_DELTAS.format(where="WHERE r.ts >= %(lo)s AND r.ts <= %(hi)s")}) d
WHERE wh IS NOT NULL GROUP BY 1 ORDER BY 1
"""
VIEW_B = """
SELECT day, sum(energy_wh)::bigint FROM analyst_system_daily
WHERE day >= %(first)s AND day < %(next)s GROUP BY day ORDER BY day
"""
NAIVE_C = f"""
SELECT m.system_id, sum(wh)::bigint
FROM ({_DELTAS.format(where="WHERE r.ts >= %(lo)s AND r.ts <= %(hi)s")}) d
JOIN meters m USING (meter_id)
WHERE wh IS NOT NULL GROUP BY 1 ORDER BY 1
"""


def database_url(admin_url: str, mode: str, meters: int, days: int, reload: bool) -> str:
    """The loaded benchmark database of this mode and scale (loaded now when missing)."""
    name = f"pts_bench_analyst_{mode}_{meters}x{days}"
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and reload:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if exists and not reload:
            with psycopg.connect(url) as db:
                done = db.execute("SELECT to_regclass('bench_loaded')").fetchone()
            if done and done[0]:
                return url
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    load(url, mode, meters, days)
    return url


def load(url: str, mode: str, meters: int, days: int) -> None:
    migrate(url, mode, schedule_jobs=False)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        load_registry(conn, meters, TZ)
        span = conn.execute(
            "SELECT (%(d)s::date)::timestamp AT TIME ZONE %(tz)s, "
            "(%(d)s::date + %(n)s)::timestamp AT TIME ZONE %(tz)s",
            {"d": FIRST_DAY, "n": days, "tz": TZ},
        ).fetchone()
        assert span is not None
        conn.execute(
            "SELECT pts_ensure_reading_partition(m) FROM generate_series(%s::timestamptz, "
            "%s::timestamptz, interval '1 month') m",
            (span[0], span[1]),
        )
        conn.execute("SELECT pts_ensure_reading_partition(%s)", (span[1],))
        for m in range(1, meters + 1):
            load_readings(conn, m, span[0], span[1], TZ)
            conn.execute(_INTERVALS, {"meter": meter_id(m)})
            if m % 50 == 0:
                print(f"  {mode}: {m}/{meters} meters loaded", flush=True)
        conn.execute(_DAYS, {"tz": TZ})
        conn.execute(_MONTHS)
        conn.execute("VACUUM ANALYZE")
        before = storage_size(conn, mode)
        if mode == "timescale":
            run_jobs(conn, "pts_refresh_monthly")
            run_jobs(conn, "policy_compression")
            conn.execute("VACUUM ANALYZE")
        conn.execute(
            "CREATE TABLE bench_loaded AS SELECT now() AS at, %s::bigint AS size_before, "
            "%s::bigint AS size_after",
            (before, storage_size(conn, mode)),
        )
    print(f"  {mode}: loaded in {time.perf_counter() - started:.0f} s", flush=True)


def run_jobs(conn: psycopg.Connection[Any], proc: str) -> None:
    jobs = conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs WHERE job_id >= 1000 AND proc_name = %s",
        (proc,),
    ).fetchall()
    for (job_id,) in jobs:
        conn.execute("CALL run_job(%s)", (job_id,))


def storage_size(conn: psycopg.Connection[Any], mode: str) -> int:
    """Bytes of readings and intervals (indexes included; compressed chunks included)."""
    if mode == "timescale":
        sql = "SELECT hypertable_size('readings') + hypertable_size('meter_interval_energy')"
    else:
        sql = (
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "WHERE c.oid IN (SELECT inhrelid FROM pg_inherits "
            "WHERE inhparent = 'readings'::regclass) OR c.oid = 'meter_interval_energy'::regclass"
        )
    row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def best_of(runs: int, fn: Callable[[], Answer]) -> tuple[float, Answer]:
    best, answer = float("inf"), []
    for _ in range(runs):
        started = time.perf_counter()
        answer = fn()
        best = min(best, time.perf_counter() - started)
    return best, answer


def query(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> Callable[[], Answer]:
    return lambda: [tuple(r) for r in conn.execute(sql, params).fetchall()]


def close_all(conn: psycopg.Connection[Any], month: str) -> Answer:
    """Close `month` for every system inside a transaction that is rolled back (the close's
    own transaction becomes a savepoint in it), so the next run can close it again."""
    with conn.transaction(force_rollback=True):
        report = close_month(conn, month, ADMIN, datetime.now(UTC))
    return sorted((s.system.system_id, s.energy_wh) for s in report.systems)


def measure(url: str, mode: str, runs: int) -> dict[str, tuple[float, float]]:
    """{figure: (seconds, naive seconds)}; every answer checked against its naive twin."""
    with psycopg.connect(url) as conn:
        bounds = conn.execute(
            "SELECT (%(m)s || '-01')::date, ((%(m)s || '-01')::date + interval '1 month')::date, "
            "(%(m)s || '-01')::timestamp AT TIME ZONE %(tz)s, "
            "((%(m)s || '-01')::date + interval '1 month')::timestamp AT TIME ZONE %(tz)s",
            {"m": MONTH, "tz": TZ},
        ).fetchone()
        assert bounds is not None
        first, following, lo, hi = bounds
        conn.commit()
        a = {"system": "S-0001", "meter": "M-0001", "tz": TZ}
        b = {"first": first, "next": following, "lo": lo, "hi": hi, "tz": TZ}
        figures = {
            "a": (query(conn, VIEW_A, a), query(conn, NAIVE_A, a)),
            "b": (query(conn, VIEW_B, b), query(conn, NAIVE_B, b)),
            "c": (lambda: close_all(conn, MONTH), query(conn, NAIVE_C, b)),
        }
        out: dict[str, tuple[float, float]] = {}
        for key, (fast, naive) in figures.items():
            seconds, answer = best_of(runs if key != "c" else 1, fast)
            conn.rollback()
            naive_seconds, naive_answer = best_of(runs if key != "c" else 1, naive)
            conn.rollback()
            if answer != naive_answer:
                raise SystemExit(
                    f"({key}) {mode}: the answers differ: {answer[:3]} vs {naive_answer[:3]}"
                )
            out[key] = (seconds, naive_seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meters", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", default="postgresql://pts@127.0.0.1:15432/postgres")
    parser.add_argument("--reload", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, tuple[float, float]]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    rows = 0
    for mode in ("plain", "timescale"):
        url = database_url(args.url, mode, args.meters, args.days, args.reload)
        with psycopg.connect(url, autocommit=True) as conn:
            loaded = conn.execute("SELECT size_before, size_after FROM bench_loaded").fetchone()
            assert loaded is not None
            sizes[mode] = (int(loaded[0]), int(loaded[1]))
            count = conn.execute("SELECT count(*) FROM readings").fetchone()
            rows = int(count[0]) if count else 0
        results[mode] = measure(url, mode, args.runs)
    labels = {
        "a": "(a) one system, monthly, a year",
        "b": "(b) fleet daily, one month",
        "c": f"(c) month close, {args.meters} systems",
    }
    print(
        f"\n{args.meters} meters x {args.days} days of 15-minute readings: {rows:,} rows per mode"
    )
    print(
        f"{'figure':<36} {'plain':>10} {'naive':>10} {'timescale':>10} {'naive':>10} "
        f"{'ts speed-up':>11}"
    )
    for key, label in labels.items():
        p, pn = results["plain"][key]
        t, tn = results["timescale"][key]
        digits = 0 if tn >= 10 * t else 2
        print(
            f"{label:<36} {fmt(p):>10} {fmt(pn):>10} {fmt(t):>10} {fmt(tn):>10} "
            f"{tn / t:>10.{digits}f}x"
        )
    mib = 1024 * 1024
    print(
        f"readings + intervals on disk: plain {sizes['plain'][0] / mib:,.0f} MiB; timescale "
        f"{sizes['timescale'][0] / mib:,.0f} MiB before compression, "
        f"{sizes['timescale'][1] / mib:,.0f} MiB after"
    )


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
