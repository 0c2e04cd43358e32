"""Support for gateway tests: a subscriber that records every reading, and fleet configs."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateways.agent_config import GatewayConfig, MqttConfig
from gateways.meters import MeterConfig
from gateways.simulator.fleet import MeterFleet
from tests.broker_accounts import TEST_USER, ensure_test_accounts

ROOT = Path(__file__).resolve().parents[3]


class Recorder:
    """Subscribes to every readings topic and keeps (meter_id, ts, energy_wh) received; ready
    once the broker acknowledged the subscription. With `keep=False` it only counts messages
    (bench/gateway.py: a reader that costs the measured gateway no CPU). A gateway needs one:
    with MQTT 5 it keeps every reading nobody received."""

    def __init__(
        self, host: str, port: int, topic: str = "pts/v1/+/+/readings", keep: bool = True
    ) -> None:
        self.received: dict[str, dict[str, int]] = defaultdict(dict)
        self.by_seq: dict[int, set[tuple[str, str]]] = defaultdict(set)  # seq -> readings
        self.replayed: set[tuple[str, str]] = set()  # (meter_id, ts) flagged REPLAYED
        self.messages = 0
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"rec-{uuid.uuid4().hex[:6]}"
        )
        self.client.username_pw_set(*TEST_USER)
        self._topic = topic
        self._keep = keep
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert self._ready.wait(30), "recorder could not subscribe within 30 s"

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object
    ) -> None:
        client.subscribe(self._topic, qos=1)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: object, mid: int, codes: object, props: object
    ) -> None:
        self._ready.set()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if not self._keep:
            self.messages += 1  # only this thread writes it
            return
        batch = json.loads(message.payload)
        with self._lock:
            self.messages += 1
            for r in batch["readings"]:
                self.received[r["meter_id"]][r["ts"]] = r["energy_wh"]
                self.by_seq[r["seq"]].add((r["meter_id"], r["ts"]))
                if "replayed" in r["flags"]:
                    self.replayed.add((r["meter_id"], r["ts"]))

    def readings(self) -> int:
        """How many distinct (meter_id, ts) readings arrived."""
        with self._lock:
            return sum(len(got) for got in self.received.values())

    def values(self, meter_id: str) -> set[int]:
        """The energy values that arrived for one meter."""
        with self._lock:
            return set(self.received.get(meter_id, {}).values())

    async def until(self, check: Callable[[], bool], what: str, within_s: float = 60) -> None:
        """Wait until `check()` holds, without blocking the event loop (the simulated meters
        answer on it), or fail saying what was awaited. A gateway's reading is acknowledged
        once the broker has queued it for this subscriber, not once it arrived here: wait
        for the readings themselves, not for a pause after the gateway's drain."""
        deadline = time.monotonic() + within_s
        while True:
            if check():
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {within_s} s waiting for {what}; "
                    f"{self.readings()} readings in {self.messages} messages arrived"
                )
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def gateway_config(
    fleet: MeterFleet,
    port: int,
    spool: Path,
    gateway_id: str = "gw-test",
    password: str = "gw-test-secret",
) -> GatewayConfig:
    return GatewayConfig(
        gateway_id=gateway_id,
        interval_s=300,
        spool_path=spool,
        timeout_s=1.0,  # 0.3 s timed out under load (2 cores, many processes)
        mqtt=MqttConfig(host="127.0.0.1", port=port, username=gateway_id, password=password),
        meters=[
            MeterConfig(
                meter_id=m.meter_id,
                host=fleet.address_of(m)[0],
                port=fleet.address_of(m)[1],
                unit_id=m.unit_id,
                map="sunspec" if m.kind == "sunspec" else "pts-sim-uint32-le",
            )
            for m in fleet.meters
        ],
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnMosquitto:
    """A Mosquitto of the test's own, from the project's script, on a free port."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.env = {**os.environ, "PTS_LOCAL_DIR": str(folder), "PTS_MQTT_PORT": str(self.port),
                    "PTS_MQTTS_PORT": str(free_port())}  # fmt: skip

    def _run(self, action: str) -> None:
        subprocess.run(["bash", str(ROOT / "deploy/local/mosquitto.sh"), action], env=self.env,
                       check=True, capture_output=True)  # fmt: skip

    def start(self) -> None:
        self._run("start")
        ensure_test_accounts(self.port, self.folder)

    def stop(self) -> None:
        self._run("stop")
