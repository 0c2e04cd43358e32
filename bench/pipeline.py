"""Pipeline benchmark: MQTT in → rows committed, beside each stage's own ceiling.

    python bench/pipeline.py [--messages 10000] [--readings 10] [--meters 50] [--rounds 3]

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
   one consumer group on a 4-partition topic.
Every measurement is repeated `--rounds` times (fresh databases and topics each round; the
machine is shared and single figures swing by a third): prints the median, min and max
readings/s of each and the pipeline's median as a share of the slowest ceiling's median.
MQTT, Kafka and COPY helpers come from bench/bridge.py and storage.writer, so the ceilings
are measured the same way as there.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
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


ROLES = ("stream worker", "bridge", "publisher (this process)", "PostgreSQL", "Mosquitto", "Kafka")


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
    bridge: int,
) -> dict[str, float]:
    """CPU seconds each part of the pipeline spent between two snapshots (processes that
    started meanwhile count from zero; short-lived ones that ended are missed)."""
    spent = dict.fromkeys(ROLES, 0.0)
    for pid, (cmdline, cpu) in after.items():
        used = cpu - before.get(pid, (cmdline, 0.0))[1]
        if pid in workers:
            spent["stream worker"] += used
        elif pid == bridge:
            spent["bridge"] += used
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
    root: str,
    topic: str,
    messages: list[tuple[str, bytes]],
    url: str,
    expected: int,
    logs: Path,
    workers: int,
) -> tuple[float, dict[str, float]]:
    """Seconds from the first publish to the last reading committed, and the CPU seconds
    each part spent meanwhile."""
    env = bb.bridge_env(topic) | {"PTS_DATABASE_URL": url, "PTS_LOCAL_DIR": str(logs)}
    asyncio.run(bb.make_topics(topic))  # readings (4 partitions) and dead letters
    bridge = start(bb.PTS, bb.bridge_args(root), env, logs / "bridge.log")
    app_id = f"{topic}.stream"  # Faust's internal topics then share the bench prefix
    procs = [
        start(
            bb.PTS,
            ["stream", "worker", "--app-id", app_id, "--loglevel", "warning"],
            env,
            logs / f"worker-{n}.log",
        )
        for n in range(workers)
    ]
    try:
        time.sleep(8 + 4 * workers)  # the bridge subscribes, the workers join their group
        cpu_before = cpu_by_pid()
        start_t = time.perf_counter()
        publisher = threading.Thread(target=bb.publish, args=(messages,))
        publisher.start()
        deadline = time.monotonic() + 300
        while committed(url) < expected:
            if time.monotonic() > deadline or any(w.poll() is not None for w in procs):
                raise RuntimeError(
                    f"pipeline stalled at {committed(url)} of {expected} (logs in {logs})"
                )
            time.sleep(0.2)
        elapsed = time.perf_counter() - start_t
        publisher.join()
        spent = cpu_per_role(cpu_before, cpu_by_pid(), {p.pid for p in procs}, bridge.pid)
        return elapsed, spent
    finally:
        for proc in (bridge, *procs):
            proc.terminate()
        for proc in (bridge, *procs):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def measure_once(
    bb: ModuleType,
    args: argparse.Namespace,
    messages: list[tuple[str, bytes]],
    root: str,
    topics: str,
    logs: Path,
) -> dict[str, float]:
    """One round of every measurement: seconds per figure (fresh databases and topics)."""
    readings = args.messages * args.readings
    meters = [f"bm-{m}" for m in range(args.meters)]
    copy_url, e2e_url = fresh_database(meters), fresh_database(meters)
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
        e2e_s, spent = end_to_end(
            bb, root, topics + "pipeline", messages, e2e_url, readings, logs, args.workers
        )
    finally:
        asyncio.run(bb.delete_topics(topics))
        drop_database(copy_url)
        drop_database(e2e_url)
    return {
        MQTT: mqtt_s,
        PRODUCE: produce_s,
        CONSUME: consume_s,
        FAUST: faust_s,
        COPY_MANY: copy_many_s,
        COPY_ONE: copy_one_s,
        PIPELINE: e2e_s,
    } | {f"cpu:{role}": seconds for role, seconds in spent.items()}


MQTT = "raw MQTT pub/sub (QoS 1)"
PRODUCE = "raw Kafka produce (idempotent, acks=all)"
CONSUME = "raw Kafka consume"
FAUST = "(Faust consume, agent does nothing)"
COPY_MANY = "raw COPY (binary, 200 messages/transaction)"
COPY_ONE = "(raw COPY, 1 message/transaction)"
PIPELINE = "pipeline MQTT → rows committed"
CEILINGS = (MQTT, PRODUCE, CONSUME, COPY_MANY)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--readings", type=int, default=10, help="readings per message")
    parser.add_argument("--meters", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="stream workers (one group)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of every measurement; medians are shown"
    )
    parser.add_argument(
        "--signing-only", action="store_true", help="only the signing on/off figures (no services)"
    )
    args = parser.parse_args()
    # signing on and off, same run: CPU per reading at the gateway and the worker
    signing = load_bench_module("provenance")
    print(signing.report(signing.measure(2_000, args.readings, args.rounds), args.readings))
    if args.signing_only:
        return
    bb = load_bridge_bench()
    bb.ensure_test_accounts(bb.PORT)
    readings = args.messages * args.readings
    rounds: list[dict[str, float]] = []
    for n in range(args.rounds):
        run_id = uuid.uuid4().hex[:8]
        root, topics = f"test/bench-{run_id}", f"bench.{run_id}."
        messages = make_messages(root, args.messages, args.readings, args.meters)
        logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"pts-bench-{run_id}"
        logs.mkdir(parents=True)
        if n == 0:
            size = sum(len(p) for _, p in messages) / len(messages)
            print(
                f"{args.messages} messages x {args.readings} readings ({size:.0f} B each), "
                f"{args.meters} meters, {args.workers} stream worker(s), {args.rounds} round(s)"
            )
        rounds.append(measure_once(bb, args, messages, root, topics, logs))
        print(f"  round {n + 1}: pipeline {readings / rounds[-1][PIPELINE]:,.0f} readings/s")
    rates = {
        name: sorted(readings / r[name] for r in rounds)
        for name in rounds[0]
        if not name.startswith("cpu:")
    }
    print(f"  {'readings/s':52s} {'median':>11s} {'min':>9s} {'max':>9s}")
    for name, values in rates.items():
        print(
            f"  {name:52s} {statistics.median(values):11,.0f} {values[0]:9,.0f} {values[-1]:9,.0f}"
        )
    print(f"  {'CPU per reading committed, end to end (µs)':52s} {'median':>11s}")
    total = 0.0
    for role in ROLES:
        micros = statistics.median(r[f"cpu:{role}"] / readings * 1e6 for r in rounds)
        total += micros
        print(f"  {role:52s} {micros:11.1f}")
    print(f"  {'all of them':52s} {total:11.1f}")
    slowest = min(CEILINGS, key=lambda k: statistics.median(rates[k]))
    share = statistics.median(rates[PIPELINE]) / statistics.median(rates[slowest])
    print(f"  pipeline median = {share:.0%} of the slowest ceiling's median ({slowest})")


if __name__ == "__main__":
    main()
