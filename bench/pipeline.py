"""Pipeline benchmark: MQTT in → rows committed, beside each stage's own ceiling.

    python bench/pipeline.py [--messages 10000] [--readings 10] [--meters 50] [--rounds 3]
        [--workers 1,2,3] [--bridges 1,2] [--metrics on,off] [--pipeline-only]

Same payloads (ReadingBatch JSON, `--readings` readings of one meter each) in every run, on
the real Mosquitto, Kafka and PostgreSQL, measured in this one run:
0. signing on and off (bench/provenance.py): CPU per reading of the gateway's encode and the
   worker's core, unsigned and signed/verified (`--signing-only` stops after it);
1. raw MQTT pub/sub: one QoS 1 publisher, one QoS 1 subscriber (ceiling of the MQTT leg);
2. raw Kafka produce (idempotent, acks=all) and raw consume of what was produced; for
   reference, Faust consuming it with the worker's settings and doing nothing
   (bench/faust_consume.py): the framework's own share of the worker;
3. raw binary COPY of the same readings into a freshly migrated `readings` table, 200
   messages per transaction (the stream worker's largest buffer; the ceiling) and, for
   reference, one message per transaction;
4. end to end: the QoS 1 publisher here → `pts bridge run` (own process) → Kafka →
   `pts stream worker` (own process: core, idempotent writer, interval/day/month rollups)
   → PostgreSQL; done when every reading is committed. `--workers` stream workers share
   one consumer group on a 4-partition topic, `--bridges` bridges one shared subscription.
   Both take lists: every combination of workers × bridges × `--metrics` is a
   configuration, run once per round (fresh database, topics and topic root each run), in
   an order reversed every other round so that a drifting machine load spreads evenly.
   With metrics on, every process serves /metrics on its own port and a scraper process
   reads them all every `--scrape-every` s (Prometheus's usual 15 s is far gentler); off is
   port 0 (the bridge then does not watch the broker's $SYS either).
Every measurement is repeated `--rounds` times (the machine is shared and single figures
swing by a third): prints the median, min and max readings/s of each, every pipeline
configuration's CPU per committed reading by process, and the pipeline's median as a share
of the slowest ceiling's median. With `--metrics on,off`: metrics' own cost, from the paired
on/off runs of each round (median of the per-round ratios), in throughput and in CPU per
reading, and the in-process counting that stays on at port 0, measured alone.
MQTT, Kafka and COPY helpers come from bench/bridge.py and storage.writer, so the ceilings
are measured the same way as there.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg

# bench/storage.py would shadow the `storage` package: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from schemas.reading import Reading, ReadingBatch, Source  # noqa: E402 - after the fix above
from schemas.registry import (  # noqa: E402 - after the sys.path fix above
    AccuracyClass,
    DasProvider,
    Meter,
    ReportingMethod,
    System,
)
from storage import registry_store  # noqa: E402 - after the sys.path fix above
from storage.migrate import migrate  # noqa: E402 - after the sys.path fix above
from storage.writer import _COLS, COPY_TYPES, reading_to_row  # noqa: E402 - as above
from stream.metrics import WorkerMetrics  # noqa: E402 - as above

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("PTS_TEST_DATABASE_URL", "postgresql://pts@127.0.0.1:15432/pts")


def load_bridge_bench() -> ModuleType:
    return load_bench_module("bridge")


def load_bench_module(name: str) -> ModuleType:
    """bench/NAME.py as module bench_NAME (this folder stays off the import path)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_messages(root: str, count: int, readings: int, meters: int) -> list[tuple[str, bytes]]:
    """Gateway batches of one meter each, a reading a minute (received when stamped)."""
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for n in range(count):
        meter, step = f"bm-{n % meters}", n // meters
        stamps = [t0 + timedelta(minutes=step * readings + i) for i in range(readings)]
        batch = ReadingBatch(
            batch_id=f"bench-{n}",
            source=Source.GATEWAY,
            source_id="gw-bench",
            sent_at=stamps[-1],
            readings=tuple(
                Reading(
                    meter_id=meter,
                    ts=ts,
                    energy_wh=1_000 + 17 * (step * readings + i),
                    source=Source.GATEWAY,
                    source_id="gw-bench",
                    seq=step * readings + i,
                    received_at=ts,
                )
                for i, ts in enumerate(stamps)
            ),
        )
        out.append((f"{root}/gw-bench/{meter}/readings", batch.model_dump_json().encode()))
    return out


def fresh_database(meters: list[str]) -> str:
    name = f"pts_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)
    migrate(url)
    # the gateway is the systems' reporting party of record (the stream refuses others)
    records: list[Any] = [DasProvider(provider_id="gw-bench", name="bench", approved=True)]
    for meter_id in meters:
        records.append(
            System(
                system_id=f"S-{meter_id}",
                owner_id="bench",
                capacity_kw_dc=Decimal(1000),
                reporting_method=ReportingMethod.AUTOMATIC,
                das_provider_id="gw-bench",
            )
        )
        records.append(
            Meter(
                meter_id=meter_id,
                system_id=f"S-{meter_id}",
                serial=meter_id,
                model="bench",
                accuracy_class=AccuracyClass.PCT_0_5,
                installed_on=date(2020, 1, 1),
            )
        )
    with psycopg.connect(url) as conn:
        registry_store.upsert(conn, records)
    return url


def drop_database(url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def raw_copy(url: str, payloads: list[bytes], per_transaction: int) -> tuple[float, int]:
    """Binary COPY of every reading, `per_transaction` messages per transaction."""
    decoded = [
        [reading_to_row(r) for r in ReadingBatch.model_validate_json(p).readings] for p in payloads
    ]
    rows = [
        [row for batch in decoded[i : i + per_transaction] for row in batch]
        for i in range(0, len(decoded), per_transaction)
    ]
    with psycopg.connect(url) as conn:
        conn.execute("SELECT pts_ensure_reading_partition(%s)", (rows[0][0][1],))
        conn.commit()
        start = time.perf_counter()
        for batch in rows:
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY readings ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(list(COPY_TYPES))
                for row in batch:
                    copy.write_row(row)
            conn.commit()
        elapsed = time.perf_counter() - start
    return elapsed, sum(len(b) for b in rows)


def reset_readings(url: str) -> str:
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE readings")
    return url


def start(
    pts: list[str], args: list[str], env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*pts, *args], env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def faust_consume(topic: str, count: int, logs: Path) -> float:
    """Seconds Faust alone takes to hand `count` messages to an agent (bench/faust_consume.py)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "faust_consume.py"), "--topic", topic,
         "--count", str(count)],
        capture_output=True, text=True, timeout=300, check=True, cwd=logs,
    )  # fmt: skip
    found = re.search(r"faust_consume seconds=([0-9.]+)", out.stdout)  # Faust adds escapes
    if found is None:
        raise RuntimeError(f"bench/faust_consume.py printed no figure: {out.stdout[-500:]!r}")
    return float(found.group(1))


def committed(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    return int(row[0]) if row else 0


async def create_topic(topic: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(
        bootstrap_servers=os.environ.get("PTS_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    )
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


ROLES = (
    "stream workers",
    "bridges",
    "publisher (this process)",
    "PostgreSQL",
    "Mosquitto",
    "Kafka",
)


@dataclass(frozen=True, slots=True)
class Setup:
    """One pipeline configuration of the matrix."""

    workers: int
    bridges: int
    metrics: bool

    def __str__(self) -> str:
        return (
            f"{self.workers} worker{'s' if self.workers > 1 else ''}, "
            f"{self.bridges} bridge{'s' if self.bridges > 1 else ''}, "
            f"metrics {'on' if self.metrics else 'off'}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Reads every /metrics port given, every EVERY seconds, until killed; prints one line per
# successful scrape (the bench checks every port was read while it measured).
SCRAPER = """
import sys, time, urllib.request
ports, every = sys.argv[1].split(","), float(sys.argv[2])
while True:
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                r.read()
            print(port, flush=True)
        except OSError:
            pass
    time.sleep(every)
"""


def cpu_by_pid() -> dict[int, tuple[str, float]]:
    """(command line, CPU seconds so far) of every process this user can read (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue  # gone meanwhile
        out[int(entry.name)] = (cmdline, (int(stat[11]) + int(stat[12])) / tick)
    return out


def cpu_per_role(
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
    workers: set[int],
    bridges: set[int],
) -> dict[str, float]:
    """CPU seconds each part of the pipeline spent between two snapshots (processes that
    started meanwhile count from zero; short-lived ones that ended are missed)."""
    spent = dict.fromkeys(ROLES, 0.0)
    for pid, (cmdline, cpu) in after.items():
        used = cpu - before.get(pid, (cmdline, 0.0))[1]
        if pid in workers:
            spent["stream workers"] += used
        elif pid in bridges:
            spent["bridges"] += used
        elif pid == os.getpid():
            spent["publisher (this process)"] += used
        elif cmdline.startswith("postgres") or "/postgres " in cmdline:
            spent["PostgreSQL"] += used
        elif "mosquitto" in cmdline:
            spent["Mosquitto"] += used
        elif "kafka.Kafka" in cmdline:
            spent["Kafka"] += used
    return spent


def end_to_end(
    bb: ModuleType,
    args: argparse.Namespace,
    setup: Setup,
    logs: Path,
) -> tuple[float, dict[str, float]]:
    """One pipeline run on a fresh database, topic and topic root: seconds from the first
    publish to the last reading committed, and the CPU seconds each part spent meanwhile."""
    run_id = uuid.uuid4().hex[:8]
    root, topic = f"test/bench-{run_id}", f"bench.{run_id}.pipeline"
    messages = make_messages(root, args.messages, args.readings, args.meters)
    expected = args.messages * args.readings
    url = fresh_database([f"bm-{m}" for m in range(args.meters)])
    logs = logs / f"{setup.workers}w{setup.bridges}b-{'on' if setup.metrics else 'off'}"
    logs.mkdir(parents=True)
    env = bb.bridge_env(topic) | {"PTS_DATABASE_URL": url, "PTS_LOCAL_DIR": str(logs)}
    ports: list[int] = []

    def port() -> str:
        if not setup.metrics:
            return "0"
        ports.append(free_port())
        return str(ports[-1])

    procs: list[subprocess.Popen[bytes]] = []
    scraper: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(bb.make_topics(topic))  # readings (4 partitions) and dead letters
        bridges = [
            start(bb.PTS, bb.bridge_args(root), env | {"PTS_BRIDGE_METRICS_PORT": port()},
                  logs / f"bridge-{n}.log")
            for n in range(setup.bridges)
        ]  # fmt: skip
        app_id = f"{topic}.stream"  # Faust's internal topics then share the bench prefix
        workers = [
            start(bb.PTS, ["stream", "worker", "--app-id", app_id, "--loglevel", "warning"],
                  env | {"PTS_STREAM_METRICS_PORT": port()}, logs / f"worker-{n}.log")
            for n in range(setup.workers)
        ]  # fmt: skip
        procs = [*bridges, *workers]
        if ports:
            scraper = subprocess.Popen(
                [sys.executable, "-c", SCRAPER, ",".join(map(str, ports)), str(args.scrape_every)],
                stdout=(logs / "scrapes.log").open("wb"), stderr=subprocess.DEVNULL,
            )  # fmt: skip
        # the bridges subscribe, the workers join their group
        time.sleep(8 + 4 * setup.workers + 2 * (setup.bridges - 1))
        cpu_before = cpu_by_pid()
        scraped_before = scrapes(logs)
        start_t = time.perf_counter()
        publisher = threading.Thread(target=bb.publish, args=(messages,))
        publisher.start()
        deadline = time.monotonic() + 300
        while committed(url) < expected:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(
                    f"pipeline stalled at {committed(url)} of {expected} (logs in {logs})"
                )
            time.sleep(0.2)
        elapsed = time.perf_counter() - start_t
        publisher.join()
        spent = cpu_per_role(
            cpu_before, cpu_by_pid(), {p.pid for p in workers}, {p.pid for p in bridges}
        )
        scraped = scrapes(logs)
        unread = [p for p in ports if scraped.get(p, 0) <= scraped_before.get(p, 0)]
        if unread:  # "metrics on" must mean served and read while measured
            raise RuntimeError(f"/metrics on ports {unread} not scraped (logs in {logs})")
        return elapsed, spent
    finally:
        if scraper is not None:
            scraper.kill()
            scraper.wait(10)
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        asyncio.run(bb.delete_topics(f"bench.{run_id}."))
        drop_database(url)


def scrapes(logs: Path) -> dict[int, int]:
    """Successful scrapes so far, by port (the scraper's log)."""
    path = logs / "scrapes.log"
    lines = path.read_text().split() if path.exists() else []
    return {int(p): lines.count(p) for p in set(lines)}


def measure_ceilings(
    bb: ModuleType, args: argparse.Namespace, root: str, topics: str, logs: Path
) -> dict[str, float]:
    """One round of every stage's ceiling: seconds per figure (fresh databases and topics)."""
    messages = make_messages(root, args.messages, args.readings, args.meters)
    readings = args.messages * args.readings
    meters = [f"bm-{m}" for m in range(args.meters)]
    copy_url = fresh_database(meters)
    try:
        mqtt_s = bb.raw_mqtt(root, messages)
        asyncio.run(create_topic(topics + "raw", 4))  # the broker creates no topic on first use
        produce_s = asyncio.run(bb.raw_kafka(topics + "raw", messages))
        t0 = time.perf_counter()
        got = asyncio.run(bb.count_records(topics + "raw", len(messages), 120))
        consume_s = time.perf_counter() - t0
        assert got == len(messages), f"raw consume: {got} of {len(messages)}"
        faust_s = faust_consume(topics + "raw", len(messages), logs)
        copy_one_s, copied = raw_copy(copy_url, [p for _, p in messages], 1)
        assert copied == readings
        copy_url = reset_readings(copy_url)
        copy_many_s, copied = raw_copy(copy_url, [p for _, p in messages], 200)
        assert copied == readings
    finally:
        asyncio.run(bb.delete_topics(topics))
        drop_database(copy_url)
    return {
        MQTT: mqtt_s,
        PRODUCE: produce_s,
        CONSUME: consume_s,
        FAUST: faust_s,
        COPY_MANY: copy_many_s,
        COPY_ONE: copy_one_s,
    }


def counting_cost(readings_per_batch: int, calls: int = 20_000) -> float:
    """CPU µs per reading of the stream worker's in-process counting (WorkerMetrics.
    observe_batch), which stays on when /metrics is off, at `readings_per_batch` readings
    per committed batch (one message per batch: the most calls per reading)."""
    metrics = WorkerMetrics()
    sources = [("gateway", "gw-bench", time.time())]
    start_cpu = time.process_time()
    for _ in range(calls):
        metrics.observe_batch(0.01, readings_per_batch, 0, 0, [], sources)
    return (time.process_time() - start_cpu) / calls / readings_per_batch * 1e6


MQTT = "raw MQTT pub/sub (QoS 1)"
PRODUCE = "raw Kafka produce (idempotent, acks=all)"
CONSUME = "raw Kafka consume"
FAUST = "(Faust consume, agent does nothing)"
COPY_MANY = "raw COPY (binary, 200 messages/transaction)"
COPY_ONE = "(raw COPY, 1 message/transaction)"
PIPELINE = "pipeline MQTT → rows committed"
CEILINGS = (MQTT, PRODUCE, CONSUME, COPY_MANY)


def scrape_cost(sources: int, calls: int = 500) -> float:
    """CPU ms to render one scrape of a stream worker's registry holding `sources` sources,
    four partitions' lag and a few refusal reasons (what its /metrics thread does per
    scrape, HTTP aside)."""
    from prometheus_client import generate_latest

    from stream.core import Reject
    from stream.errors import ReasonCode

    metrics = WorkerMetrics()
    rejects = [Reject(code, "bench", b"") for code in list(ReasonCode)[:4]]
    stamped = [("gateway", f"gw-{n}", time.time()) for n in range(sources)]
    metrics.observe_batch(0.01, 10, 0, 0, rejects, stamped)
    metrics.set_lag("readings.raw", dict.fromkeys(range(4), 0), dict.fromkeys(range(4), 10))
    metrics.set_dead_letters({"unknown_meter": 3})
    start_cpu = time.process_time()
    for _ in range(calls):
        generate_latest(metrics.registry)
    return (time.process_time() - start_cpu) / calls * 1e3


def int_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",")]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: counts of 1 or more, comma separated")
    return values


def switch_list(text: str) -> list[bool]:
    if not set(text.split(",")) <= {"on", "off"}:
        raise argparse.ArgumentTypeError(f"{text!r}: on, off or on,off")
    return [v == "on" for v in text.split(",")]


def pipeline_report(
    runs: dict[Setup, list[tuple[float, dict[str, float]]]],
    readings: int,
    slowest: tuple[str, float] | None,
) -> list[str]:
    """Throughput and CPU per committed reading of every configuration (medians of rounds)."""
    head = f"  {'pipeline MQTT → rows committed, readings/s':52s} {'median':>11s} {'min':>9s}"
    lines = [f"{head} {'max':>9s}" + ("  share of the slowest ceiling" if slowest else "")]
    for setup, done in runs.items():
        rates = sorted(readings / s for s, _ in done)
        median = statistics.median(rates)
        share = f"  {median / slowest[1]:.0%}" if slowest else ""
        lines.append(f"  {setup!s:52s} {median:11,.0f} {rates[0]:9,.0f} {rates[-1]:9,.0f}{share}")
    short = ("workers", "bridges", "publisher", "PostgreSQL", "Mosquitto", "Kafka", "all")
    lines.append(f"  {'CPU µs per reading committed (median of rounds)':52s} "
                 + " ".join(f"{h:>10s}" for h in short))  # fmt: skip
    # PostgreSQL, Mosquitto and Kafka may be shared: their CPU then includes others' work
    for setup, done in runs.items():
        cells = [statistics.median(cpu[role] / readings * 1e6 for _, cpu in done) for role in ROLES]
        cells.append(statistics.median(sum(cpu.values()) / readings * 1e6 for _, cpu in done))
        lines.append(f"  {setup!s:52s} " + " ".join(f"{c:10.1f}" for c in cells))
    return lines


def metrics_cost_report(
    runs: dict[Setup, list[tuple[float, dict[str, float]]]],
    readings: int,
    per_batch: int,
    sources: int,
    every: float,
) -> list[str]:
    """Metrics on against off, paired within each round: median of the per-round ratios."""
    lines = ["  metrics' own cost, on against off in the same round (median of the rounds' ratios;"
             " the bar: 5%)"]  # fmt: skip
    worker_cpu: list[float] = []
    rates: list[float] = []
    for setup in runs:
        off = Setup(setup.workers, setup.bridges, False)
        if not setup.metrics or off not in runs:
            continue
        pairs = list(zip(runs[setup], runs[off], strict=True))
        throughput = statistics.median(off_s / on_s - 1 for (on_s, _), (off_s, _) in pairs)
        cpu = statistics.median(
            sum(on.values()) / sum(of.values()) - 1 for (_, on), (_, of) in pairs
        )
        pipeline = statistics.median(
            (on[ROLES[0]] + on[ROLES[1]]) / (of[ROLES[0]] + of[ROLES[1]]) - 1
            for (_, on), (_, of) in pairs
        )
        worker_cpu += [of[ROLES[0]] / readings * 1e6 for _, of in runs[off]]
        rates += [readings / off_s for off_s, _ in runs[off]]
        lines.append(
            f"  {setup.workers} worker(s), {setup.bridges} bridge(s): "
            f"throughput {throughput:+.1%}, CPU per reading {pipeline:+.1%} (workers and "
            f"bridges, where the metrics run), {cpu:+.1%} (all processes)"
        )
    if not worker_cpu:
        return []  # no configuration ran both on and off
    counting = counting_cost(per_batch)
    share = counting / statistics.median(worker_cpu)
    lines.append(
        f"  counting that port 0 leaves on (worker observe_batch, {per_batch} readings per "
        f"batch, alone): {counting:.2f} µs per reading = {share:.1%} of the worker's CPU"
    )
    # serving: CPU per scrape, alone, against the worker's CPU per second at its throughput
    busy = statistics.median(worker_cpu) / 1e6 * statistics.median(rates)  # CPU s per s
    for count in (1, sources):  # the bench's one gateway, and a fleet's
        rendering = scrape_cost(count)
        lines.append(
            f"  serving one scrape of a worker's metrics ({count} source(s), alone): "
            f"{rendering:.2f} ms CPU; of the worker's CPU at the measured throughput: "
            f"{rendering / 1e3 / every / busy:.1%} scraped every {every:g} s, "
            f"{rendering / 1e3 / 15 / busy:.1%} every 15 s"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--readings", type=int, default=10, help="readings per message")
    parser.add_argument("--meters", type=int, default=50)
    parser.add_argument(
        "--workers", type=int_list, default=[1], help="stream workers in one group, e.g. 1,2,3"
    )
    parser.add_argument(
        "--bridges", type=int_list, default=[1], help="bridges on one shared subscription, e.g. 1,2"
    )
    parser.add_argument(
        "--metrics", type=switch_list, default=[True], help="/metrics served and scraped: on,off"
    )
    parser.add_argument(
        "--scrape-every", type=float, default=1.0, help="seconds between scrapes (metrics on)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of every measurement; medians are shown"
    )
    parser.add_argument(
        "--signing-only", action="store_true", help="only the signing on/off figures (no services)"
    )
    parser.add_argument(
        "--pipeline-only", action="store_true", help="no signing figures, no ceilings"
    )
    args = parser.parse_args()
    began = time.monotonic()
    if not args.pipeline_only:
        # signing on and off, same run: CPU per reading at the gateway and the worker
        signing = load_bench_module("provenance")
        print(signing.report(signing.measure(2_000, args.readings, args.rounds), args.readings))
        if args.signing_only:
            return
    bb = load_bridge_bench()
    bb.ensure_test_accounts(bb.PORT)
    readings = args.messages * args.readings
    setups = [Setup(w, b, m) for w in args.workers for b in args.bridges for m in args.metrics]
    ceilings: list[dict[str, float]] = []
    runs: dict[Setup, list[tuple[float, dict[str, float]]]] = {s: [] for s in setups}
    size = len(make_messages("x", 1, args.readings, 1)[0][1])
    print(
        f"{args.messages} messages x {args.readings} readings ({size} B each), "
        f"{args.meters} meters, {len(setups)} pipeline configuration(s), {args.rounds} round(s)"
    )
    for n in range(args.rounds):
        run_id = uuid.uuid4().hex[:8]
        logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"pts-bench-{run_id}"
        logs.mkdir(parents=True)
        if not args.pipeline_only:
            ceilings.append(
                measure_ceilings(bb, args, f"test/bench-{run_id}", f"bench.{run_id}.", logs)
            )
        for setup in setups if n % 2 == 0 else reversed(setups):
            try:
                runs[setup].append(end_to_end(bb, args, setup, logs))
            except RuntimeError as exc:  # e.g. the shared broker disconnected the bench's
                # user ("Administrative action" when a test updates the test accounts)
                print(f"  round {n + 1}, {setup}: {exc}; running it again", flush=True)
                runs[setup].append(end_to_end(bb, args, setup, logs / "again"))
            print(
                f"  round {n + 1}, {setup}: {readings / runs[setup][-1][0]:,.0f} readings/s",
                flush=True,
            )
    slowest: tuple[str, float] | None = None
    if ceilings:
        rates = {name: sorted(readings / r[name] for r in ceilings) for name in ceilings[0]}
        print(f"  {'ceilings, readings/s':52s} {'median':>11s} {'min':>9s} {'max':>9s}")
        for name, values in rates.items():
            print(
                f"  {name:52s} {statistics.median(values):11,.0f} {values[0]:9,.0f} "
                f"{values[-1]:9,.0f}"
            )
        name = min(CEILINGS, key=lambda k: statistics.median(rates[k]))
        slowest = (name, statistics.median(rates[name]))
        print(f"  slowest ceiling: {name}")
    for line in pipeline_report(runs, readings, slowest):
        print(line)
    for line in metrics_cost_report(runs, readings, args.readings, 1_000, args.scrape_every):
        print(line)
    print(f"  took {(time.monotonic() - began) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
