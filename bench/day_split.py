"""Day split benchmark: `stream.calendar.daily_energy` as month close calls it, today's code
beside the code of an earlier commit, in alternating rounds on the same intervals.

    python bench/day_split.py [--systems 100] [--rounds 5] [--before c4e6c70]
                              [--url ADMIN_URL]

Reads June 2025's points of every meter of bench/month_close.py's database (load it first:
`python bench/month_close.py --systems N`), as month close reads them (rows in the
session's UTC tzinfo), derives their intervals once, then times the day split of every
meter-month with each implementation in turn (order alternating round by round, so the
machine's load falls on both alike). Checks both give the same days (energy, intervals,
flags) and prints the median and range of each, in ms of CPU per meter-month.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/storage.py beside this file would shadow the storage package (see bench/month_close.py)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import psycopg  # noqa: E402

from storage import reading_points  # noqa: E402
from stream import calendar  # noqa: E402
from stream.calendar import local_day, month_bounds  # noqa: E402
from stream.energy import DEFAULT_POWER_TOLERANCE, PowerLimit, RegisterPoint, intervals  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("America/New_York")
MONTH = "2025-06"


def module_at(revision: str) -> ModuleType:
    """stream/calendar.py as it was at `revision`, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{revision}:stream/calendar.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "calendar_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("calendar_before", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def month_intervals(url: str, systems: int) -> list[Any]:
    """Every meter's June intervals, derived as month close derives them."""
    start, end = month_bounds(MONTH, TZ)
    ids = [f"M-{m:04d}" for m in range(1, systems + 1)]
    limit = PowerLimit(Decimal(50), DEFAULT_POWER_TOLERANCE)
    with psycopg.connect(url) as conn:
        found = reading_points.month_points(conn, ids, start, end)
    return [
        intervals([RegisterPoint.stored(*row) for row in rows], limit) for rows in found.values()
    ]


def split_all(fn: Callable[..., Any], parts: list[Any]) -> list[Any]:
    start, end = month_bounds(MONTH, TZ)
    window = (local_day(start, TZ), local_day(end - timedelta(seconds=1), TZ))
    return [fn(p, TZ, window) for p in parts]


def as_values(days: list[Any]) -> list[Any]:
    return [
        sorted(
            (d, e.energy_wh, e.intervals, sorted(f.value for f in e.flags)) for d, e in m.items()
        )
        for m in days
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--systems", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", default="c4e6c70", help="the commit compared with")
    parser.add_argument("--url", default="postgresql://pts@127.0.0.1:15432/postgres")
    args = parser.parse_args()
    url = psycopg.conninfo.make_conninfo(args.url, dbname=f"pts_bench_month_close_{args.systems}")
    parts = month_intervals(url, args.systems)
    before = module_at(args.before)
    impls = {"before": before.daily_energy, "now": calendar.daily_energy}
    if as_values(split_all(impls["before"], parts)) != as_values(split_all(impls["now"], parts)):
        raise SystemExit("the two implementations give different days")
    cpu: dict[str, list[float]] = {name: [] for name in impls}
    for n in range(args.rounds):
        for name in list(impls) if n % 2 == 0 else list(impls)[::-1]:
            started = time.process_time()
            split_all(impls[name], parts)
            cpu[name].append((time.process_time() - started) / len(parts) * 1000)
    print(
        f"day split of {len(parts)} meter-months ({sum(len(p) for p in parts):,} intervals), "
        f"{args.rounds} alternating rounds, ms of CPU per meter-month, median (min-max):"
    )
    for name, values in cpu.items():
        label = f"{name} ({args.before})" if name == "before" else name
        print(
            f"  {label:<18} {statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
        )


if __name__ == "__main__":
    main()
