"""The gateway against simulated meters and the real Mosquitto: nothing served goes missing."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateways.agent import GatewayAgent
from gateways.clock import SteppedClock
from gateways.simulator.fleet import MeterFleet, make_fleet
from tests.integration.gateways.support import OwnMosquitto, Recorder, gateway_config

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 4, tzinfo=UTC)


def served(fleet: MeterFleet) -> dict[str, dict[str, int]]:
    return {
        m.meter_id: {ts.isoformat().replace("+00:00", "Z"): value for ts, value in m.served}
        for m in fleet.meters
    }


async def run_ticks(agent: GatewayAgent, clock: SteppedClock, ticks: int, start: datetime) -> None:
    for i in range(ticks):
        tick = start + timedelta(minutes=5 * i)
        clock.set(tick)
        await agent.poll_once(tick)
        await asyncio.sleep(0)


async def test_fifty_meters_two_days_nothing_missing(
    mqtt_broker: tuple[str, int], tmp_path: Path
) -> None:
    """50 meters polled every 5 minutes for 2 simulated days: every served reading arrives."""
    host, port = mqtt_broker
    clock = SteppedClock(T0)
    fleet = make_fleet(clock, 50, T0, seed=3)
    await fleet.start()
    recorder = Recorder(host, port, "pts/v1/gw-test/+/readings")
    agent = GatewayAgent(gateway_config(fleet, port, tmp_path / "spool.db"), clock)
    agent.publisher.start()
    try:
        assert await asyncio.to_thread(agent.publisher.connected.wait, 30)
        await run_ticks(agent, clock, 2 * 288, T0)
        assert await agent.drain(seconds=60)
        everything = readings_of(fleet)
        await recorder.until(lambda: recorder.readings() >= everything, "every served reading")
    finally:
        await agent.close()
        recorder.stop()
        await fleet.stop()
    truth = served(fleet)
    assert sum(len(v) for v in truth.values()) == 50 * 576
    assert dict(recorder.received) == truth
    # the values are the meters' registers: the energy between the first and last reading
    for meter in fleet.meters:
        got = recorder.received[meter.meter_id]
        first, last = min(got), max(got)
        assert (got[last] - got[first]) % 2**32 == meter.truth_wh(
            T0, T0 + timedelta(minutes=5 * 575)
        )


async def test_broker_outage_loses_nothing(tmp_path: Path) -> None:
    """Mosquitto stopped for 2 simulated hours mid-run: the spool replays, nothing missing."""
    broker = OwnMosquitto(tmp_path / "broker")
    broker.start()
    clock = SteppedClock(T0)
    fleet = make_fleet(clock, 10, T0, seed=4)
    await fleet.start()
    recorder = Recorder("127.0.0.1", broker.port, "pts/v1/gw-test/+/readings")
    agent = GatewayAgent(gateway_config(fleet, broker.port, tmp_path / "spool.db"), clock)
    agent.publisher.start()
    try:
        assert await asyncio.to_thread(agent.publisher.connected.wait, 30)
        await run_ticks(agent, clock, 24, T0)
        assert await agent.drain(seconds=20)
        broker.stop()
        await asyncio.sleep(0.5)
        await run_ticks(agent, clock, 24, T0 + timedelta(hours=2))
        held = agent.spool.count()
        broker.start()
        await run_ticks(agent, clock, 24, T0 + timedelta(hours=4))
        assert await agent.drain(seconds=60)
        everything = readings_of(fleet)
        await recorder.until(lambda: recorder.readings() >= everything, "every served reading")
    finally:
        await agent.close()
        recorder.stop()
        broker.stop()
        await fleet.stop()
    assert held >= 10 * 24  # the outage's readings waited in the spool
    assert dict(recorder.received) == served(fleet)
    assert all(len(v) == 72 for v in recorder.received.values())
    # what waited out the outage went out flagged REPLAYED; what went out at once did not
    stamps = {(m, ts): datetime.fromisoformat(ts) for m, got in recorder.received.items()
              for ts in got}  # fmt: skip
    down, up = T0 + timedelta(hours=2), T0 + timedelta(hours=4)
    before = {k for k, t in stamps.items() if t < down}
    outage = {k for k, t in stamps.items() if down <= t < up}
    assert len(outage) == 240
    assert outage <= recorder.replayed
    assert not before & recorder.replayed


async def test_wrong_password_is_one_clear_line_and_no_crash(
    mqtt_broker: tuple[str, int], tmp_path: Path
) -> None:
    """A refused login is logged with the broker's reason; polling and spooling go on."""
    _, port = mqtt_broker
    clock = SteppedClock(T0)
    fleet = make_fleet(clock, 3, T0, seed=5)
    await fleet.start()
    config = gateway_config(fleet, port, tmp_path / "spool.db", password="wrong")
    agent = GatewayAgent(config, clock)
    try:
        with capture_logs() as logs:
            agent.publisher.start()
            await until(lambda: any(e["event"] == "mqtt_connect_refused" for e in logs),
                        "the broker's refusal logged")  # fmt: skip
            await run_ticks(agent, clock, 3, T0)
    finally:
        await agent.close()
        await fleet.stop()
    refused = [e for e in logs if e["event"] == "mqtt_connect_refused"]
    assert refused
    assert refused[0]["reason"] in {"Not authorized", "Bad user name or password"}
    assert spool_count(tmp_path / "spool.db") == 9


def readings_of(fleet: MeterFleet) -> int:
    """How many distinct readings the meters served."""
    return sum(len(got) for got in served(fleet).values())


def flushed(agent: GatewayAgent) -> int:
    """Publish what can go out and read the broker's answers; how many were not delivered."""
    agent.flush()
    return agent.stats.undelivered


async def until(check: Callable[[], bool], what: str, within_s: float = 60) -> None:
    """Wait until `check()` holds without blocking the loop the meters answer on."""
    deadline = time.monotonic() + within_s
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(0.05)


def spool_count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM spool").fetchone()[0])


async def test_nothing_leaves_the_spool_until_someone_took_it(tmp_path: Path) -> None:
    """With nobody subscribed the broker answers 'No matching subscribers' (MQTT 5): the
    readings stay in the spool and are sent again; once a reader subscribes, every one of
    them arrives and the spool empties (with MQTT 3.1.1 they were deleted and lost)."""
    broker = OwnMosquitto(tmp_path / "broker")
    broker.start()
    clock = SteppedClock(T0)
    fleet = make_fleet(clock, 3, T0, seed=6)
    await fleet.start()
    agent = GatewayAgent(gateway_config(fleet, broker.port, tmp_path / "spool.db"), clock)
    agent.publisher.start()
    recorder = None
    try:
        assert await asyncio.to_thread(agent.publisher.connected.wait, 30)
        with capture_logs() as logs:
            await run_ticks(agent, clock, 4, T0)
            assert not await agent.drain(seconds=2)  # nobody takes them
            await until(lambda: flushed(agent) >= 12, "the broker's answer to all 12 readings")
        assert spool_count(tmp_path / "spool.db") == 12
        assert agent.stats.acknowledged == 0
        assert agent.stats.undelivered >= 12
        warned = [e for e in logs if e["event"] == "readings_not_delivered"]
        assert warned[0]["reason"] == "No matching subscribers"
        recorder = Recorder("127.0.0.1", broker.port, "pts/v1/gw-test/+/readings")
        assert await agent.drain(seconds=40)
        await recorder.until(lambda: recorder.readings() >= 12, "the 12 readings")
    finally:
        await agent.close()
        if recorder is not None:
            recorder.stop()
        await fleet.stop()
        broker.stop()
    assert recorder is not None
    assert dict(recorder.received) == served(fleet)
    assert spool_count(tmp_path / "spool.db") == 0
    assert agent.stats.acknowledged == 12
