"""Web benchmark: requests/s and latency of the portal's system page, the readings API and
the DAS intake, beside a trivial endpoint (/healthz) of the same server in the same run (the
ceiling).

    python bench/web.py [--seconds 10] [--concurrency 16] [--readings 2000]

A scratch database on the local PostgreSQL (make services-up) gets the web tests' registry and
`--readings` hourly readings of meter M1; `pts web serve` runs in its own process (one uvicorn
worker, JSON logs at info, as deployed); this process drives it over loopback with httpx2,
`--concurrency` requests in flight, each endpoint for `--seconds`. Besides requests/s and
latency it prints the server's CPU time per request (from /proc), the figure that holds on a
shared machine where the others swing with its load. The DAS intake posts a one-reading
report of S3 (provider sunny) to private Kafka topics (the rate limits opened wide; each answer
waits for Kafka's acknowledgement). Never gates CI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ingest.das.credentials import add_api_key
from schemas import Reading, Source
from storage.migrate import migrate
from storage.writer import write_readings
from tests.integration.stream.kafka_support import create_topics, delete_topics
from tests.integration.web.support import PASSWORD, REP, seed
from web import accounts
from web.accounts import SessionPolicy

ADMIN_URL = os.environ.get("PTS_TEST_DATABASE_URL", "postgresql://pts@127.0.0.1:15432/pts")
KAFKA = os.environ.get("PTS_KAFKA_BOOTSTRAP", "127.0.0.1:19092")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pts_command() -> str:
    """The `pts` entry point beside this Python (a venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "pts"
    found = str(beside) if beside.exists() else shutil.which("pts")
    if found is None:
        raise SystemExit("no `pts` command: run `make install` first")
    return found


def prepare(url: str, readings: int) -> tuple[str, str, str]:
    """Seed the registry and readings; (session cookie, API token) of the representative and
    sunny's DAS API key."""
    migrate(url, "plain")
    seed(url)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=readings)
    rows = [
        Reading(
            meter_id="M1",
            ts=start + timedelta(hours=i),
            energy_wh=1_000_000 + i * 3_000,
            source=Source.MANUAL,
            source_id="bench",
            seq=i,
            received_at=start + timedelta(hours=i),
        )
        for i in range(readings)
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            write_readings(conn, rows)
        now = datetime.now(UTC)
        signed = accounts.sign_in(conn, REP, PASSWORD, now, "bench", SessionPolicy())
        _, token = accounts.create_token(conn, signed.account, "bench", now, "bench")
        das_key = add_api_key(conn, "sunny", "bench")
    return signed.session_secret, token, das_key


async def drive(
    client: httpx2.AsyncClient,
    path: str,
    headers: dict[str, str],
    seconds: float,
    workers: int,
    body: bytes | None = None,
) -> tuple[int, list[float], int]:
    """(requests, latencies in ms, non-200 answers) of `workers` loops for `seconds`; a GET,
    or a POST of `body`."""
    latencies: list[float] = []
    bad = 0
    stop = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal bad
        while time.perf_counter() < stop:
            began = time.perf_counter()
            if body is None:
                answer = await client.get(path, headers=headers)
            else:
                answer = await client.post(path, headers=headers, content=body)
            latencies.append((time.perf_counter() - began) * 1000)
            bad += answer.status_code != 200

    await asyncio.gather(*(loop() for _ in range(workers)))
    return len(latencies), latencies, bad


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


DAS_REPORT = (
    b'{"systems": [{"systemId": "S3", "meterValue": 1234.5, "meterDate": "2026-10-29T12:00"}]}'
)


async def run(
    base: str, cookie: str, token: str, das_key: str, seconds: float, workers: int, pid: int
) -> None:
    das_headers = {"x-api-key": das_key, "content-type": "application/json"}
    targets: list[tuple[str, str, dict[str, str], bytes | None]] = [
        ("trivial: GET /healthz", "/healthz", {}, None),
        ("portal: GET /systems/S1", "/systems/S1", {"cookie": f"pts_session={cookie}"}, None),
        (
            "API: GET /api/v1/systems/S1/readings?limit=100",
            "/api/v1/systems/S1/readings?limit=100",
            {"authorization": f"Bearer {token}"},
            None,
        ),
        ("DAS: POST /api/v1/das/reports (1 reading)", "/api/v1/das/reports", das_headers,
         DAS_REPORT),
    ]  # fmt: skip
    limits = httpx2.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        for _, path, headers, body in targets:  # warm up (pool, templates, plans, producer)
            await drive(client, path, headers, 1, 2, body)
        print(
            f"{'endpoint':<48} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} {'CPU ms/req':>10} "
            f"{'errors':>6}"
        )
        for label, path, headers, body in targets:
            cpu_before = cpu_seconds(pid)
            count, latencies, bad = await drive(client, path, headers, seconds, workers, body)
            cpu = (cpu_seconds(pid) - cpu_before) * 1000 / count
            p95 = statistics.quantiles(latencies, n=20)[-1]
            print(
                f"{label:<48} {count / seconds:>6.0f} {statistics.median(latencies):>7.1f} "
                f"{p95:>7.1f} {cpu:>10.2f} {bad:>6}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--readings", type=int, default=2000)
    args = parser.parse_args()
    name = f"pts_bench_web_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)
    server: subprocess.Popen[bytes] | None = None
    raw, dead = asyncio.run(create_topics(KAFKA))
    try:
        cookie, token, das_key = prepare(url, args.readings)
        port = free_port()
        env = {
            **os.environ,
            "PTS_DATABASE_URL": url,
            "PTS_LOG_FORMAT": "json",
            "PTS_WEB_METRICS_PORT": "0",
            "PTS_KAFKA_BOOTSTRAP": KAFKA,
            "PTS_KAFKA_READINGS_TOPIC": raw,
            "PTS_KAFKA_DEAD_LETTER_TOPIC": dead,
            "PTS_DAS_RATE_PER_KEY": "1000000",
            "PTS_DAS_RATE_PER_ADDRESS": "1000000",
        }
        server = subprocess.Popen(
            [pts_command(), "web", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("pts web serve did not start")
            time.sleep(0.1)
        print(
            f"pts web serve (1 uvicorn process), {args.concurrency} in flight, "
            f"{args.seconds:.0f} s each, {os.cpu_count()} CPUs shared with the load generator"
        )
        asyncio.run(run(base, cookie, token, das_key, args.seconds, args.concurrency, server.pid))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        asyncio.run(delete_topics(KAFKA, raw, dead))
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
