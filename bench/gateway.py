"""Gateway benchmark: readings/s one gateway process sustains, and its CPU per 1,000 meters.

    python bench/gateway.py [--meters 200] [--ticks 30] [--mqtt-port 11883]

The simulator runs in its own process (`pts simulate meters`), so this process holds only the
gateway: poll every meter (Modbus TCP, 10 meters per link) → spool (SQLite, synchronous=FULL)
→ publish (QoS 1) → PUBACK → delete, tick after tick as fast as it goes, on the real
Mosquitto started by `make services-up` (user gw-test). Printed beside it, in the same run:
- the polling ceiling: the same polls with no spool and no publish;
- the publishing ceiling: raw paho QoS 1 publishes of the same batch payloads, acked.
CPU per 1,000 meters polled each minute = this process's CPU seconds per reading × 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateways.agent import GatewayAgent, batch_payload
from gateways.agent_config import GatewayConfig, MqttConfig
from gateways.clock import SteppedClock
from gateways.meters import MeterConfig
from gateways.poller import MeterPoller
from pts.logging import configure_logging

# the test suite's own broker account (the broker ships none): made through its admin API
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.simulator_process import start_simulator
from tests.broker_accounts import (
    GATEWAY_USER,
    ensure_test_accounts,
)
from tests.integration.gateways.support import Recorder

ROOT = Path(__file__).resolve().parents[1]


async def polling_ceiling(meters: list[MeterConfig], ticks: int) -> tuple[float, int]:
    clock = SteppedClock(datetime.now(UTC))
    poller = MeterPoller(meters, clock, timeout=1.0)
    await poller.poll_all(clock.now())  # discovery, not timed
    start, done = time.perf_counter(), 0
    for _ in range(ticks):
        done += len(await poller.poll_all(clock.now()))
    await poller.close()
    return time.perf_counter() - start, done


async def gateway_run(meters: list[MeterConfig], ticks: int, port: int) -> tuple[float, float, int]:
    folder = Path(tempfile.mkdtemp(prefix="pts-bench-gw-"))
    config = GatewayConfig(
        gateway_id="gw-test", interval_s=60, spool_path=folder / "spool.db", timeout_s=1.0,
        mqtt=MqttConfig(port=port, username=GATEWAY_USER[0], password=GATEWAY_USER[1]),
        meters=meters,
    )  # fmt: skip
    clock = SteppedClock(datetime.now(UTC))
    agent = GatewayAgent(config, clock)
    agent.publisher.start()
    await asyncio.to_thread(agent.publisher.connected.wait, 10)
    await agent.poller.poll_all(clock.now())  # discovery, not timed
    cpu0, start, done = time.process_time(), time.perf_counter(), 0
    for i in range(ticks):
        tick = clock.now() + timedelta(minutes=1 + i)
        clock.set(tick)
        done += await agent.poll_once(tick)
    assert await agent.drain(seconds=120), "the spool did not drain"
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
    await agent.close()
    return elapsed, cpu, done


def publish_ceiling(port: int, payloads: list[tuple[str, bytes]]) -> float:
    window = threading.Semaphore(1000)  # the same in-flight bound as the agent
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw-publisher")
    client.username_pw_set(*GATEWAY_USER)
    client.max_inflight_messages_set(100)
    client.on_publish = lambda c, u, mid, rc, p: window.release()
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.perf_counter()
    for topic, payload in payloads:
        window.acquire()
        client.publish(topic, payload, qos=1)
    for _ in range(1000):  # every PUBACK in
        window.acquire()
    elapsed = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--sim-port", type=int, default=26000)
    parser.add_argument(
        "--mqtt-port", type=int, default=int(os.environ.get("PTS_MQTT_PORT", 11883))
    )
    args = parser.parse_args()
    configure_logging(level="error")
    ensure_test_accounts(args.mqtt_port)
    # the gateway deletes a reading only once the broker delivered it to someone
    sink = Recorder("127.0.0.1", args.mqtt_port, topic="pts/v1/gw-test/#", keep=False)
    sim, meters = start_simulator(args.meters, args.sim_port)
    try:
        poll_s, polls = asyncio.run(polling_ceiling(meters, args.ticks))
        run_s, cpu_s, readings = asyncio.run(gateway_run(meters, args.ticks, args.mqtt_port))
    finally:
        sim.terminate()
        sim.wait(10)
    body = ('{"meter_id":"SIM-0000","ts":"2026-06-01T15:00:00Z","energy_wh":123456789,'
            '"source":"gateway","source_id":"gw-test","seq":1,'
            '"received_at":"2026-06-01T15:00:01Z"}')  # fmt: skip
    payloads = [(f"pts/v1/gw-test/SIM-{i % args.meters:04d}/readings",
                 batch_payload("gw-test", [body])) for i in range(readings)]  # fmt: skip
    pub_s = publish_ceiling(args.mqtt_port, payloads)
    sink.stop()
    print(f"{args.meters} simulated meters (own process), {args.ticks} ticks, one batch per "
          "meter per tick")  # fmt: skip
    print(f"{'path':<55} {'readings/s':>11}")
    print(f"{'polling only (Modbus ceiling)':<55} {polls / poll_s:>11,.0f}")
    print(
        f"{'raw paho QoS 1 publish of the same messages (ceiling)':<55} {readings / pub_s:>11,.0f}"
    )
    print(f"{'gateway: poll → spool → publish → PUBACK → delete':<55} {readings / run_s:>11,.0f}")
    per_reading = cpu_s / readings
    print(
        f"gateway CPU per reading {per_reading * 1e6:,.0f} µs → polling 1,000 meters each "
        f"minute costs {per_reading * 1000:.2f} CPU-s per minute "
        f"({per_reading * 1000 / 60:.1%} of one core)"
    )


if __name__ == "__main__":
    main()
