"""Soak of the gateway alone, in its own process, with the simulated meters in another.

    python bench/soak_gateway.py [--duration 900] [--meters 20] [--rate 5] [--tick-minutes 5]
                                 [--sim-speed 1500] [--sample 10] [--warmup 180]
                                 [--trace-every 0] [--out soak_gateway.json]

bench/soak.py runs the gateway agent and the simulated meters in one process, so its memory
slope mixes the two. Here:
- `pts simulate meters --speed S` serves the meters over Modbus TCP in its own process; S
  simulated seconds per real second (default 1,500: the meters' days pass as fast as the
  gateway's 5-minute ticks at 5 polls/s, as in bench/soak.py);
- a gateway process (this script with `--role gateway`): the real GatewayAgent (poll → SQLite
  spool → publish QoS 1 → PUBACK → delete) on a stepped clock, `--rate` polls per second of
  `--tick-minutes` data each, to a private Mosquitto (deploy/local/mosquitto.sh, free port);
- this process: a subscriber that only counts (a gateway drains only when someone receives),
  and every `--sample` seconds the resident set (VmRSS) of the gateway and the simulator.
It prints each process's slope in MB/hour (least squares after `--warmup`). With
`--trace-every N` the gateway takes a tracemalloc snapshot every N seconds after the warm-up
and prints the allocation sites that grew most since the first one (slower: use it to find a
leak, not to measure the slope).

Measured 2026-11-30 (15 min, 20 meters, 5 polls/s, 90,000 readings published and acked,
load average 10-20 on the shared 2 cores): before the simulator fix the gateway 0.97 MB/h
(76.6 MB at the end) and the simulator 97.3 MB/h; after it, the gateway 3.6 MB/h (76.4 ->
77.0 MB) and the simulator 1.9 MB/h. With --trace-every 120 (11 min) no allocation site of the
gateway grew by more than 0.02 MB: its small RSS drift is not Python objects.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# keep bench/ off the import path (bench/storage.py would shadow the `storage` package)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.simulator_process import start_simulator  # noqa: E402 - after the sys.path fix
from bench.soak import rss_mb, slope_per_hour  # noqa: E402 - after the sys.path fix above
from gateways.agent import GatewayAgent  # noqa: E402
from gateways.agent_config import GatewayConfig, MqttConfig  # noqa: E402
from gateways.clock import SteppedClock  # noqa: E402
from gateways.meters import MeterConfig  # noqa: E402
from pts.logging import configure_logging  # noqa: E402
from tests.broker_accounts import GATEWAY_USER  # noqa: E402
from tests.integration.gateways.support import Recorder  # noqa: E402
from tests.integration.ingest.support import OwnMosquitto, free_port  # noqa: E402

START = datetime(2026, 3, 1, 5, tzinfo=UTC)


def top_growth(first: tracemalloc.Snapshot, now: tracemalloc.Snapshot, n: int = 8) -> list[str]:
    stats = now.compare_to(first, "traceback")
    grown = sorted(stats, key=lambda s: s.size_diff, reverse=True)[:n]
    out = []
    for stat in grown:
        frames = " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback[:4])
        out.append(f"    {stat.size_diff / 1e6:+7.2f} MB {stat.count_diff:+8d} blocks  {frames}")
    return out


async def run_gateway(args: argparse.Namespace) -> None:
    """The gateway process: poll at `rate` per second until `duration`, then drain."""
    configure_logging(level="error")
    meters = [MeterConfig.model_validate(m) for m in json.loads(args.meters_file.read_text())]
    config = GatewayConfig(
        gateway_id=GATEWAY_USER[0], interval_s=args.tick_minutes * 60,
        spool_path=args.spool, timeout_s=2.0,
        mqtt=MqttConfig(port=args.mqtt_port, username=GATEWAY_USER[0],
                        password=GATEWAY_USER[1]),
        meters=meters,
    )  # fmt: skip
    clock = SteppedClock(START)
    agent = GatewayAgent(config, clock)
    agent.publisher.start()
    assert await asyncio.to_thread(agent.publisher.connected.wait, 20), "broker unreachable"
    step = timedelta(minutes=args.tick_minutes)
    began = time.monotonic()
    first: tracemalloc.Snapshot | None = None
    next_trace = began + args.warmup
    index = 0
    while time.monotonic() - began < args.duration:
        tick = START + step * index
        clock.set(tick)
        await agent.poll_once(tick)
        index += 1
        now = time.monotonic()
        if args.trace_every and now >= next_trace:
            if first is None:
                tracemalloc.start(8)
                first = tracemalloc.take_snapshot()
            else:
                print(f"  gateway t={now - began:.0f}s tracemalloc growth since the warm-up:")
                print("\n".join(top_growth(first, tracemalloc.take_snapshot())), flush=True)
            next_trace = now + args.trace_every
        await asyncio.sleep(max(0.0, began + index / args.rate - time.monotonic()))
    drained = await agent.drain(seconds=120)
    stats = agent.stats
    print(json.dumps({"polls": index, "polled": stats.polled, "published": stats.published,
                      "acknowledged": stats.acknowledged, "poll_failures": stats.poll_failures,
                      "drained": drained}), flush=True)  # fmt: skip
    await agent.close()


def soak(args: argparse.Namespace) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="pts-soak-gw-"))
    mosquitto = OwnMosquitto(folder / "mq")
    mosquitto.start()
    sink = Recorder("127.0.0.1", mosquitto.port, topic=f"pts/v1/{GATEWAY_USER[0]}/#", keep=False)
    sim, meters = start_simulator(args.meters, free_port(), args.sim_speed)
    meters_file = folder / "meters.json"
    meters_file.write_text(json.dumps([m.model_dump(mode="json") for m in meters]))
    gateway = subprocess.Popen(
        [sys.executable, __file__, "--role", "gateway", "--meters-file", str(meters_file),
         "--spool", str(folder / "spool.db"), "--mqtt-port", str(mosquitto.port),
         "--duration", str(args.duration), "--rate", str(args.rate),
         "--tick-minutes", str(args.tick_minutes), "--warmup", str(args.warmup),
         "--trace-every", str(args.trace_every)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    series: dict[str, list[tuple[float, float]]] = {"gateway": [], "simulator": []}
    began = time.monotonic()
    print(f"soak (gateway alone): {args.meters} meters, {args.rate} polls/s of "
          f"{args.tick_minutes}-minute data, simulator at speed {args.sim_speed:g}, "
          f"{args.duration:.0f} s", flush=True)  # fmt: skip
    try:
        while gateway.poll() is None:
            t = time.monotonic() - began
            for name, pid in (("gateway", gateway.pid), ("simulator", sim.pid)):
                mb = rss_mb(pid)
                if mb is not None:
                    series[name].append((t, mb))
            print(f"  t={t:6.0f}s messages={sink.messages} "
                  + " ".join(f"{k}={v[-1][1]:.1f}MB" for k, v in series.items() if v),
                  flush=True)  # fmt: skip
            time.sleep(args.sample)
        assert gateway.stdout is not None
        output = gateway.stdout.read()
    finally:
        if gateway.poll() is None:
            gateway.terminate()
        sim.terminate()
        sim.wait(10)
        sink.stop()
        mosquitto.stop()
    print(output, end="")
    summary = json.loads(output.strip().splitlines()[-1])
    memory = {}
    for name, points in series.items():
        steady = [(t, mb) for t, mb in points if t >= args.warmup] or points
        memory[name] = {
            "first_mb": round(points[0][1], 1),
            "last_mb": round(points[-1][1], 1),
            "max_mb": round(max(mb for _, mb in points), 1),
            "slope_mb_per_h": round(slope_per_hour(steady), 2),
            "samples": len(steady),
        }
    return {"duration_s": args.duration, "meters": args.meters, "rate": args.rate,
            "gateway": summary, "messages_received": sink.messages, "memory": memory}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=["soak", "gateway"], default="soak")
    parser.add_argument("--duration", type=float, default=900, help="seconds of load")
    parser.add_argument("--meters", type=int, default=20)
    parser.add_argument("--rate", type=float, default=5, help="polls per second")
    parser.add_argument("--tick-minutes", type=int, default=5, help="simulated minutes per poll")
    parser.add_argument("--sim-speed", type=float, default=1500, help="simulator clock speed")
    parser.add_argument("--sample", type=float, default=10, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=180, help="seconds left out of slopes")
    parser.add_argument("--trace-every", type=float, default=0, help="tracemalloc period (s)")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    # the gateway process's own arguments
    parser.add_argument("--meters-file", type=Path)
    parser.add_argument("--spool", type=Path)
    parser.add_argument("--mqtt-port", type=int)
    args = parser.parse_args()
    if args.role == "gateway":
        asyncio.run(run_gateway(args))
        return
    result = soak(args)
    memory = result["memory"]
    assert isinstance(memory, dict)
    print(f"{'process':<12}{'first MB':>10}{'last MB':>10}{'max MB':>10}{'MB/hour':>10}")
    for name, f in memory.items():
        print(f"{name:<12}{f['first_mb']:>10.1f}{f['last_mb']:>10.1f}{f['max_mb']:>10.1f}"
              f"{f['slope_mb_per_h']:>10.2f}")  # fmt: skip
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
