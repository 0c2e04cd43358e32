"""Soak: the whole pipeline at a steady load for a long time, every process's memory sampled.

    python bench/soak.py [--duration 1800] [--sample 10] [--meters 20] [--rate 5]
                         [--tick-minutes 5] [--warmup 300] [--out soak.json]

Simulated meters polled by the gateway agent (this process) → a private Mosquitto →
`pts bridge run` → a private Kafka → `pts stream worker` → a private PostgreSQL, started by
the project's own scripts exactly as the fault suite does (tests/faults/rig.py; the bridge and
the worker are separate processes restarted if they exit). The meters' clock steps
`--tick-minutes` per poll, `--rate` polls per second, from 1 March 2026 on, so the load is
meters × rate readings/s of simulated 5-minute data.

Every `--sample` seconds it reads each process's memory (Linux /proc): resident set (VmRSS)
of the bridge, the worker, Kafka, Mosquitto and this process (gateway agent and simulated
meters); PostgreSQL as the proportional set size (Pss) summed over the postmaster and its
backends (their shared buffers counted once). At the end it prints each process's memory
slope in MB/hour (least squares over the samples after `--warmup` seconds), its first and
last figure, and the readings stored against those the meters served (after the gateway
drained), with the month totals of every whole month against ground truth. No ceiling applies:
a slope near 0 is the goal; a steady climb is a leak.

The "gateway+meters" figure is one process: the gateway agent and the simulated meters, whose
ground truth (`served`, every value read: ~140 B each) grows by design. bench/soak_gateway.py
runs the gateway alone in its own process and the meters in another, to tell them apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import psycopg

# bench/storage.py would shadow the `storage` package: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stream.calendar import month_bounds  # noqa: E402 - after the sys.path fix above
from tests.faults.rig import TZ, Pipeline, wait_until  # noqa: E402 - as above

PROCESSES = ("gateway+meters (soak)", "bridge", "stream worker", "Kafka", "Mosquitto", "PostgreSQL")


def rss_mb(pid: int) -> float | None:
    """Resident set size of `pid` in MB, None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def pss_tree_mb(root: int) -> float | None:
    """Proportional set size of `root` and its children in MB (PostgreSQL's processes share
    their buffers: Pss counts each shared page once across them)."""
    pids = [root]
    try:
        children = Path(f"/proc/{root}/task/{root}/children").read_text().split()
    except OSError:
        return None
    pids += [int(c) for c in children]
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue  # a backend that ended meanwhile
    return total / 1024


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (m - mean_m) for t, m in points)
    return cov / var * 3600


@dataclass
class Samples:
    series: dict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: {name: [] for name in PROCESSES}
    )
    stored: list[tuple[float, int]] = field(default_factory=list)

    def take(self, t: float, pipeline: Pipeline) -> None:
        assert pipeline.bridge is not None
        assert pipeline.worker is not None
        assert pipeline.bridge.proc is not None
        assert pipeline.worker.proc is not None
        figures = {
            "gateway+meters (soak)": rss_mb(os.getpid()),
            "bridge": rss_mb(pipeline.bridge.proc.pid),
            "stream worker": rss_mb(pipeline.worker.proc.pid),
            "Kafka": rss_mb(pipeline.kafka.pid()),
            "Mosquitto": rss_mb(pipeline.mosquitto.pid) if pipeline.mosquitto.pid else None,
            "PostgreSQL": pss_tree_mb(pipeline.postgres.postmaster_pid()),
        }
        for name, mb in figures.items():
            if mb is not None:
                self.series[name].append((t, mb))
        self.stored.append((t, pipeline.stored()))


def month_totals_exact(pipeline: Pipeline, last_tick_index: int, step: timedelta) -> list[str]:
    """'YYYY-MM: ok' or the mismatch, for every whole local month the soak polled."""
    out = []
    end_polled = pipeline.start_at + step * last_tick_index
    month = date(pipeline.start_at.astimezone(TZ).year, pipeline.start_at.astimezone(TZ).month, 1)
    while True:
        label = month.strftime("%Y-%m")
        start, end = month_bounds(label, TZ)
        if end > end_polled:
            break
        truth = {m.meter_id: m.truth_wh(start, end) for m in pipeline.fleet.meters}
        with psycopg.connect(pipeline.postgres.url) as conn:
            stored: dict[str, int] = dict(
                conn.execute(
                    "SELECT meter_id, energy_wh FROM meter_month_energy WHERE month = %s", (month,)
                ).fetchall()
            )
        out.append(f"{label}: {'exact' if stored == truth else f'DIFFERS {stored} != {truth}'}")
        month = (month + timedelta(days=32)).replace(day=1)
    return out


async def soak(args: argparse.Namespace) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="pts-soak-"))
    pipeline = Pipeline(folder, "soak", meters=args.meters)
    step = timedelta(minutes=args.tick_minutes)
    samples = Samples()
    index = 0
    try:
        await pipeline.start()
        assert pipeline.agent is not None
        began = time.monotonic()
        next_sample = began
        print(f"soak: {args.meters} meters, {args.rate} polls/s of {args.tick_minutes}-minute "
              f"data, {args.duration:.0f} s, a sample every {args.sample:.0f} s; logs in "
              f"{pipeline.logs}", flush=True)  # fmt: skip
        while (now := time.monotonic()) - began < args.duration:
            if now >= next_sample:
                samples.take(now - began, pipeline)
                t, stored = samples.stored[-1]
                print(f"  t={t:6.0f}s stored={stored} served={pipeline.expected()} "
                      + " ".join(f"{k.split()[0]}={v[-1][1]:.0f}MB"
                                 for k, v in samples.series.items() if v), flush=True)  # fmt: skip
                next_sample += args.sample
            tick = pipeline.start_at + step * index
            pipeline.clock.set(tick)
            await pipeline.agent.poll_once(tick)
            index += 1
            await asyncio.sleep(max(0.0, began + index / args.rate - time.monotonic()))
        polled_s = time.monotonic() - began
        assert await pipeline.agent.drain(seconds=300), "the gateway could not drain its spool"
        expected = pipeline.expected()
        with contextlib.suppress(AssertionError):  # a shortfall is reported below
            await wait_until(lambda: pipeline.stored() >= expected, 600, "every reading stored")
        samples.take(time.monotonic() - began, pipeline)
        await asyncio.sleep(3)  # the last batch's rollups
        stored = pipeline.stored()
        months = month_totals_exact(pipeline, index, step)
        assert pipeline.bridge is not None
        assert pipeline.worker is not None
        restarts = {"bridge": pipeline.bridge.restarts, "worker": pipeline.worker.restarts}
    finally:
        await pipeline.close()
    result: dict[str, object] = {
        "duration_s": round(polled_s),
        "meters": args.meters,
        "polls": index,
        "readings_served": expected,
        "readings_stored": stored,
        "months": months,
        "restarts": restarts,
        "memory": {},
    }
    memory: dict[str, dict[str, float]] = {}
    for name, points in samples.series.items():
        if not points:
            continue
        steady = [(t, mb) for t, mb in points if t >= args.warmup] or points
        memory[name] = {
            "first_mb": round(points[0][1], 1),
            "last_mb": round(points[-1][1], 1),
            "max_mb": round(max(mb for _, mb in points), 1),
            "slope_mb_per_h": round(slope_per_hour(steady), 2),
            "samples": len(steady),
        }
    result["memory"] = memory
    return result


def render(result: dict[str, object]) -> str:
    memory = result["memory"]
    assert isinstance(memory, dict)
    lines = [
        f"soak of {result['duration_s']} s: {result['polls']} polls of {result['meters']} meters; "
        f"readings stored {result['readings_stored']} of {result['readings_served']} served "
        f"(restarts {result['restarts']})",
        "month totals vs ground truth: " + ", ".join(result["months"]),  # type: ignore[arg-type]
        "",
        f"{'process':<24}{'first MB':>10}{'last MB':>10}{'max MB':>10}{'MB/hour':>10}",
    ]
    for name, figures in memory.items():
        lines.append(
            f"{name:<24}{figures['first_mb']:>10.1f}{figures['last_mb']:>10.1f}"
            f"{figures['max_mb']:>10.1f}{figures['slope_mb_per_h']:>10.2f}"
        )
    lines.append("(slope: least squares over the samples after the warm-up; PostgreSQL: Pss)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=1800, help="seconds of load")
    parser.add_argument("--sample", type=float, default=10, help="seconds between samples")
    parser.add_argument("--meters", type=int, default=20)
    parser.add_argument("--rate", type=float, default=5, help="polls per second")
    parser.add_argument("--tick-minutes", type=int, default=5, help="simulated minutes per poll")
    parser.add_argument("--warmup", type=float, default=300, help="seconds left out of slopes")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()
    result = asyncio.run(soak(args))
    print(render(result))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
