"""A whole pipeline of the project's own processes on private services, for fault tests.

Private PostgreSQL, Kafka and Mosquitto (started with deploy/local/*.sh in the test's folder
on free ports, so a fault kills nothing another test uses); simulated meters polled by the
gateway agent; `pts bridge run` and `pts stream worker` as processes under a supervisor that
restarts them when they exit (as systemd's Restart=always would). Ground truth is what the
simulated meters registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from gateways.agent import GatewayAgent
from gateways.clock import SteppedClock
from gateways.simulator.fleet import MeterFleet, make_fleet
from ingest.broker_admin import BrokerAdmin
from ingest.broker_roles import gateway_role
from pts.demo import GATEWAY, registry_records
from storage import registry_store
from storage.migrate import migrate
from stream.calendar import month_bounds
from tests.broker_accounts import TEST_USER, admin_credentials
from tests.integration.gateways.support import gateway_config
from tests.integration.ingest.support import OwnMosquitto, free_port
from tests.integration.ops.scrape import scrape

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / ".local"
PTS = [sys.executable, "-c", "import sys; from pts.cli import main; sys.exit(main(sys.argv[1:]))"]
RESULTS = LOCAL / "artifacts" / "faults.jsonl"
GATEWAY_PASSWORD = "demo-gw-fault-suite"


def _script(name: str, action: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / f"{name}.sh"), action],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill_hard(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    for _ in range(200):
        if not _alive(pid):
            return
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} survived SIGKILL")


class PrivateKafka:
    """deploy/local/kafka.sh in a folder of its own (the jars are shared with .local/kafka)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "kafka").mkdir(parents=True, exist_ok=True)
        lib = folder / "kafka" / "lib"
        if not lib.exists():
            lib.symlink_to(LOCAL / "kafka" / "lib")
        self.port = free_port()
        self.env = {
            "PTS_LOCAL_DIR": str(folder),
            "PTS_KAFKA_PORT": str(self.port),
            "PTS_KAFKA_CONTROLLER_PORT": str(free_port()),
            "PTS_KAFKA_SASL_PORT": str(free_port()),  # the shared broker's 19094 is taken
            "PTS_KAFKA_HEAP": "384m",
        }
        self.bootstrap = f"127.0.0.1:{self.port}"

    def start(self) -> None:
        _script("kafka", "start", self.env)

    def pid(self) -> int:
        return int((self.folder / "kafka" / "kafka.pid").read_text())

    def sigkill(self) -> None:
        _kill_hard(self.pid())

    def stop(self) -> None:
        _script("kafka", "stop", self.env)


class PrivatePostgres:
    """deploy/local/postgres.sh in a folder of its own, with a migrated `pts` database."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.env = {"PTS_LOCAL_DIR": str(folder), "PTS_PG_PORT": str(self.port)}
        self.url = f"postgresql://pts@127.0.0.1:{self.port}/pts"

    def start(self) -> None:
        _script("postgres", "start", self.env)

    def postmaster_pid(self) -> int:
        lines = (self.folder / "postgres" / "data" / "postmaster.pid").read_text().splitlines()
        return int(lines[0])

    def sigkill(self) -> None:
        """SIGKILL the postmaster and every backend, as a crash would leave them."""
        pid = self.postmaster_pid()
        children = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True
        ).stdout.split()
        _kill_hard(pid)
        for child in children:
            if _alive(int(child)):
                _kill_hard(int(child))

    def stop(self) -> None:
        _script("postgres", "stop", self.env)


@dataclass
class Supervised:
    """A process restarted 1 s after it exits (systemd Restart=always, RestartSec=1)."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    paused: bool = False
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def _spawn(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.proc is not None and self.proc.poll() is not None and not self.paused:
                await asyncio.sleep(1.0)
                self.restarts += 1
                self._spawn()

    def start(self) -> None:
        self._spawn()
        self._task = asyncio.get_running_loop().create_task(self._watch())

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait, 10)


class OffsetClock:
    """The gateway's clock: the meters' true clock plus `offset` (a clock that jumps)."""

    def __init__(self, true_clock: SteppedClock) -> None:
        self.true_clock = true_clock
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.true_clock.now() + self.offset

    async def sleep_until(self, when: datetime) -> None:
        await self.true_clock.sleep_until(when - self.offset)


MONTH = "2026-03"  # with the DST change
# the workers' PTS_STREAM_STALL_EXIT_S (default 300); PTS_FAULTS_STALL_EXIT_S=0 runs them without
# the watchdog (test_kafka_sigkilled_while_the_worker_joins then fails: the worker hangs)
STALL_EXIT_S = int(os.environ.get("PTS_FAULTS_STALL_EXIT_S", "60"))
TZ = ZoneInfo("America/New_York")


@dataclass
class Outcome:
    fault: str
    expected: int
    stored: int
    totals_exact: bool
    recovery_s: float
    restarts: dict[str, int]
    duplicates: float  # readings delivered again and recognised (the worker's counter)
    conflicts: float  # same meter and instant, different value (must stay 0)

    def record(self) -> None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as out:
            out.write(json.dumps(self.__dict__ | {"at": datetime.now().isoformat()}) + "\n")


class Pipeline:
    """Meters → gateway agent → private Mosquitto → bridge → private Kafka → worker → private
    PostgreSQL, for one month of hourly readings."""

    def __init__(
        self, folder: Path, name: str, meters: int = 6, worker_env: dict[str, str] | None = None
    ) -> None:
        self.folder = folder
        self.worker_env = worker_env or {}
        self.logs = LOCAL / "artifacts" / "faults" / name  # kept after the test, for a reader
        shutil.rmtree(self.logs, ignore_errors=True)
        self.logs.mkdir(parents=True)
        self.mosquitto = OwnMosquitto(folder / "mq")
        self.kafka = PrivateKafka(folder / "kf")
        # PostgreSQL runs as the `postgres` user when we are root: pytest's tmp folders (0700)
        # are closed to it, so its data goes below .local/ (removed in close())
        self.pg_folder = LOCAL / "faults" / uuid.uuid4().hex[:10]
        self.postgres = PrivatePostgres(self.pg_folder)
        self.meters = meters
        self.start_at, self.end_at = month_bounds(MONTH, TZ)
        self.clock = SteppedClock(self.start_at)
        self.gateway_clock = OffsetClock(self.clock)  # the gateway aligns its polls to it
        self.fleet: MeterFleet = make_fleet(
            self.clock, meters, self.start_at - timedelta(days=1), seed=21
        )
        self.ticks = int((self.end_at - self.start_at) / timedelta(hours=1)) + 1
        self.done_ticks = 0
        suffix = uuid.uuid4().hex[:8]
        self.raw, self.dead = f"faults.raw.{suffix}", f"faults.dead.{suffix}"
        self.agent: GatewayAgent | None = None
        self.bridge: Supervised | None = None
        self.worker: Supervised | None = None

    async def start(self, worker: bool = True) -> None:
        """Start the services, the bridge and (unless `worker` is False: start_worker())
        the stream worker, and connect the gateway."""
        self.mosquitto.start()
        # the registry's reporting party of the simulated meters is the demo gateway
        credentials = admin_credentials(self.mosquitto.port, self.mosquitto.local_dir)
        with BrokerAdmin.connect(credentials) as admin:
            role = gateway_role(GATEWAY)
            admin.ensure_role(role)
            admin.ensure_client(GATEWAY, GATEWAY_PASSWORD, [role.name])
        await asyncio.gather(
            asyncio.to_thread(self.kafka.start), asyncio.to_thread(self.postgres.start)
        )
        migrate(self.postgres.url)
        await self.fleet.start()
        with psycopg.connect(self.postgres.url) as conn:
            registry_store.upsert(conn, registry_records(self.fleet, signed=False))
        base = {
            **os.environ,
            "PTS_DATABASE_URL": self.postgres.url,
            "PTS_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "PTS_KAFKA_READINGS_TOPIC": self.raw,
            "PTS_KAFKA_DEAD_LETTER_TOPIC": self.dead,
            "PTS_MQTT_PORT": str(self.mosquitto.port),
            "PTS_MQTT_USERNAME": TEST_USER[0],
            "PTS_MQTT_PASSWORD": TEST_USER[1],
            "PTS_LOG_FORMAT": "json",
            "PTS_BRIDGE_METRICS_PORT": "0",
        }
        self.group = f"faults-{uuid.uuid4().hex[:6]}"
        self.metrics_port = free_port()
        await asyncio.to_thread(self._create_topics, base)
        self.bridge = Supervised(
            "bridge",
            [*PTS, "bridge", "run", "--client-id", "faults-bridge", "--share-group", "faults"],
            base,
            self.logs / "bridge.log",
        )
        self.worker = Supervised(
            "worker",
            [*PTS, "stream", "worker", "--app-id", self.group,
             "--loglevel", "warning"],
            {
                **base,
                "PTS_LOCAL_DIR": str(self.folder / "worker"),
                "PTS_STREAM_METRICS_PORT": str(self.metrics_port),
                # the liveness watchdog (stream.liveness) exits a worker that stopped
                # consuming; the supervisor starts it again
                "PTS_STREAM_STALL_EXIT_S": str(STALL_EXIT_S),
                **self.worker_env,
            },
            self.logs / "worker.log",
        )  # fmt: skip
        self.bridge.start()
        if worker:
            self.worker.start()
        config = gateway_config(
            self.fleet, self.mosquitto.port, self.folder / "spool.db", GATEWAY, GATEWAY_PASSWORD
        ).model_copy(update={"interval_s": 3600, "timeout_s": 2.0})
        self.agent = GatewayAgent(config, self.gateway_clock)
        self.agent.publisher.start()
        assert await asyncio.to_thread(self.agent.publisher.connected.wait, 20)
        await asyncio.sleep(3)  # the bridge subscribes

    def start_worker(self) -> None:
        assert self.worker is not None
        self.worker.start()

    async def group_members(self, stable: bool = False) -> int:
        """Members of the worker's consumer group (joining or stable; with `stable`, only
        once the group is Stable: its members have been given their partitions); -1 when
        Kafka does not answer."""
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            described = await admin.describe_consumer_groups([self.group])
        except Exception:  # a broker starting up, a coordinator moving
            return -1
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
        groups = described[0].groups if described else []
        if not groups or (stable and groups[0][2] != "Stable"):
            return 0
        return len(groups[0][5])

    async def worker_joins(self, within_s: float, stable: bool = False) -> None:
        """Wait until the worker is a member of its consumer group (asked every 0.1 s)."""
        deadline = time.monotonic() + within_s
        while await self.group_members(stable) < 1:
            assert time.monotonic() < deadline, "the worker never joined its group"
            await asyncio.sleep(0.1)

    async def worker_holds_partitions(self, within_s: float) -> None:
        """Wait until the worker is in its group and has stored a reading: the moment a
        mid-run fault is meant for (before it, a fault hits the worker's start-up)."""

        async def ready() -> bool:
            return await self.group_members() >= 1 and self.stored() > 0

        deadline = time.monotonic() + within_s
        while not await ready():
            assert time.monotonic() < deadline, "the worker never joined and stored a reading"
            await asyncio.sleep(0.5)

    def _create_topics(self, env: dict[str, str]) -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        async def create() -> None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap)
            await admin.start()
            try:
                await admin.create_topics([NewTopic(self.raw, 4, 1), NewTopic(self.dead, 1, 1)])
            finally:
                await admin.close()

        asyncio.run(create())

    async def poll(self, share: float) -> None:
        """Poll the meters through the next `share` of the month's ticks."""
        assert self.agent is not None
        until = min(self.ticks, self.done_ticks + int(self.ticks * share))
        for index in range(self.done_ticks, until):
            tick = self.start_at + timedelta(hours=index)
            self.clock.set(tick)
            await self.agent.poll_once(tick + self.gateway_clock.offset)
            if index % 24 == 0:
                await asyncio.sleep(0)
        self.done_ticks = until

    def expected(self) -> int:
        return sum(len(m.served) for m in self.fleet.meters)

    def stored(self) -> int:
        """Readings kept: stored, or kept beside a stored one as a conflict (never lost)."""
        try:
            with psycopg.connect(self.postgres.url, connect_timeout=3) as conn:
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM readings) "
                    "+ (SELECT count(*) FROM reading_conflicts)"
                ).fetchone()
        except psycopg.OperationalError:
            return -1
        return int(row[0]) if row else 0

    def missing(self) -> str:
        """Which served readings are not stored: per meter, the count and the time span."""
        with psycopg.connect(self.postgres.url) as conn:
            stored = {(str(m), ts) for m, ts in conn.execute("SELECT meter_id, ts FROM readings")}
        parts = []
        for meter in self.fleet.meters:
            lost = sorted(ts for ts, _ in meter.served if (meter.meter_id, ts) not in stored)
            if lost:
                parts.append(f"{meter.meter_id}: {len(lost)} from {lost[0]} to {lost[-1]}")
        return "; ".join(parts) or "none missing"

    async def finish(self, fault: str, healed_at: float, within_s: float = 300) -> Outcome:
        """Poll the rest of the month, wait until every reading is stored, compare."""
        assert self.agent is not None
        await self.poll(1.0)
        assert await self.agent.drain(seconds=120), "the gateway could not drain its spool"
        expected = self.expected()
        try:
            await wait_until(lambda: self.stored() == expected, within_s, "every reading")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}: {self.stored()} of {expected} readings stored ({self.missing()}); "
                f"logs in {self.logs}"
            ) from None
        recovery = time.monotonic() - healed_at
        await asyncio.sleep(2)  # the last batch's rollups commit with its readings
        stored = self.stored()
        with psycopg.connect(self.postgres.url) as conn:
            totals: dict[str, int] = dict(
                conn.execute(
                    "SELECT meter_id, energy_wh FROM meter_month_energy WHERE month = %s",
                    (date.fromisoformat(f"{MONTH}-01"),),
                ).fetchall()
            )
        truth = {m.meter_id: m.truth_wh(self.start_at, self.end_at) for m in self.fleet.meters}
        assert self.bridge is not None
        assert self.worker is not None
        counted = scrape(self.metrics_port)
        outcome = Outcome(
            fault,
            expected,
            stored,
            totals == truth,
            round(recovery, 1),
            {"bridge": self.bridge.restarts, "worker": self.worker.restarts},
            counted.get(("pts_stream_readings_total", (("outcome", "duplicate"),)), 0.0),
            counted.get(("pts_stream_readings_total", (("outcome", "conflict"),)), 0.0),
        )
        outcome.record()
        return outcome

    async def close(self) -> None:
        if self.agent is not None:
            await self.agent.close()
        for proc in (self.bridge, self.worker):
            if proc is not None:
                await proc.stop()
        await self.fleet.stop()
        for stop in (self.kafka.stop, self.postgres.stop, self.mosquitto.stop):
            with contextlib.suppress(AssertionError):
                await asyncio.to_thread(stop)
        shutil.rmtree(self.pg_folder, ignore_errors=True)


async def wait_until(check: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)
