"""The points query through the view `readings_in_force` beside `storage.reading_points`
(which reads `readings` itself for meters no withdrawal names), on a fleet database that
bench/late_check.py loaded:

    python bench/late_check.py --systems 500 --rounds 1          # once: loads the fleet
    python bench/points_view.py --url postgresql://pts@127.0.0.1:15432/pts_bench_late_timescale_500

One month (December 2025) of `--meters` meters, both ways in alternating order per round;
prints seconds and rows per way (the rows must be equal).
"""

from __future__ import annotations

import sys
from pathlib import Path

# keep bench/ off the import path (bench/storage.py would shadow the `storage` package)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import psycopg  # noqa: E402

from storage import reading_points as rp  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--meters", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lo = datetime(2025, 12, 1, 5, tzinfo=UTC)
    hi = datetime(2026, 1, 1, 5, tzinfo=UTC) - rp.RESOLUTION
    with psycopg.connect(args.url) as conn:
        ids = [r[0] for r in conn.execute("SELECT meter_id FROM meters ORDER BY 1 LIMIT %s",
                                          (args.meters,))]  # fmt: skip
        spans = [(m, lo, hi) for m in ids]
        view_sql = rp._WITHIN_REACH["readings_in_force"]
        figures: dict[str, list[float]] = {"through the view": [], "reading_points.points": []}
        rows: dict[str, int] = {}
        for n in range(args.rounds):
            ways = list(figures) if n % 2 == 0 else list(reversed(figures))
            for way in ways:
                began = time.perf_counter()
                if way == "through the view":
                    got = len(conn.execute(view_sql, rp._params(spans, rp.REACH)).fetchall())
                else:
                    got = sum(len(v) for v in rp.points(conn, spans, rp.REACH).values())
                figures[way].append(time.perf_counter() - began)
                rows[way] = got
    if len(set(rows.values())) != 1:
        raise SystemExit(f"the two ways read different rows: {rows}")
    print(f"{len(ids)} meters, December 2025, {args.rounds} alternating rounds")
    for way, seconds in figures.items():
        low, high = min(seconds), max(seconds)
        print(f"  {way:<24} {low:6.2f}–{high:.2f} s  {rows[way]:,} rows")


if __name__ == "__main__":
    main()
