"""Helpers for the ingest integration tests: publish to MQTT, read Kafka (not a test module)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from paho.mqtt.enums import CallbackAPIVersion

from ingest.bridge import MqttSource
from ingest.topics import OurTopics
from tests.broker_accounts import TEST_USER, ensure_test_accounts

__all__ = ["TEST_USER"]
MOSQUITTO_SH = Path(__file__).resolve().parents[3] / "deploy" / "local" / "mosquitto.sh"


def our_source(
    host: str, port: int, root: str, client_id: str | None = None, **options: Any
) -> MqttSource:
    """A bridge source on our test broker under `root`, as the test user; no share group and
    a 120 s session unless `options` say otherwise."""
    settings: dict[str, Any] = {"share_group": None, "session_expiry_s": 120} | options
    return MqttSource(
        host, port, client_id or unique("bridge"), OurTopics(root), *TEST_USER, **settings
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Publisher:
    """A QoS 1 publisher that waits until the broker acknowledged every message."""

    def __init__(self, host: str, port: int, user: tuple[str, str] = TEST_USER) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=unique("pub"), protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(*user)
        self.client.max_inflight_messages_set(100)
        self.connected = threading.Event()
        self.client.on_connect = lambda *a: self.connected.set()
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.connected.wait(30), "publisher did not connect within 30 s"

    def publish_all(self, messages: Iterable[tuple[str, bytes]]) -> list[mqtt.MQTTMessageInfo]:
        infos = [self.client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=20)
        return infos

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def consume(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read `topic` from the start until `expected` records arrived or the time is up
    (then wait one more second for records that should not be there). The time is a
    backstop for a loaded machine: a run that gets its records returns a second later."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    extra_until: float | None = None
    try:
        while time.monotonic() < (extra_until or deadline):
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
            if len(records) >= expected and extra_until is None:
                extra_until = time.monotonic() + 1.0
    finally:
        await consumer.stop()
    return records


async def wait_for(event: threading.Event, timeout_s: float = 30.0) -> None:
    """Wait for a thread's event (a bridge's `subscribed`: its SUBACK) without blocking."""
    assert await asyncio.to_thread(event.wait, timeout_s), f"not set within {timeout_s} s"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnMosquitto:
    """A private Mosquitto started with deploy/local/mosquitto.sh in a test's own folder
    (PTS_LOCAL_DIR) on a free port; stopped by its pid."""

    def __init__(self, local_dir: Path) -> None:
        self.local_dir = local_dir
        self.dir = local_dir / "mosquitto"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port()  # its MQTTS listener (the shared broker's is taken)
        self.pid: int | None = None

    def _script(self, command: str) -> None:
        env = {**os.environ, "PTS_LOCAL_DIR": str(self.local_dir), "PTS_MQTT_PORT": str(self.port),
               "PTS_MQTTS_PORT": str(self.tls_port)}  # fmt: skip
        subprocess.run(["bash", str(MOSQUITTO_SH), command], env=env, check=True, timeout=120)

    def start(self, accounts: bool = True) -> None:
        """Start it; with `accounts`, make the test suite's own accounts on it."""
        self._script("start")
        self.pid = int((self.dir / "mosquitto.pid").read_text())
        if accounts:
            ensure_test_accounts(self.port, self.local_dir)

    def stop(self) -> None:
        if self.pid is not None:
            os.kill(self.pid, signal.SIGTERM)
            for _ in range(100):
                try:
                    os.kill(self.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            self.pid = None


PTS = [sys.executable, "-c", "import sys; from pts.cli import main; sys.exit(main(sys.argv[1:]))"]


def start_bridge(
    env: dict[str, str], client_id: str, root: str, group: str, log: Path
) -> subprocess.Popen[bytes]:
    """`pts bridge run` as its own process (JSON log appended to `log`)."""
    with log.open("ab") as err:
        return subprocess.Popen(
            [
                *PTS,
                "--log-format",
                "json",
                "bridge",
                "run",
                "--client-id",
                client_id,
                "--topic-root",
                root,
                "--share-group",
                group,
                "--session-expiry",
                "120",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def events(log: Path, event: str) -> list[dict[str, object]]:
    found = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == event:
                found.append(entry)
    return found


def wait_event(log: Path, event: str, count: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(events(log, event)) < count:
        assert time.monotonic() < deadline, f"no {event} in {log.read_text()[-2000:]}"
        time.sleep(0.05)
