"""The simulator as a process (`pts simulate meters`) and as an in-process fleet."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from datetime import UTC, datetime, timedelta

import pytest

from gateways.clock import SimulatedClock, SteppedClock, SystemClock
from gateways.meters import MeterConfig
from gateways.poller import MeterPoller
from gateways.sample import MeterSample
from gateways.simulator.fleet import ServedReading, make_fleet
from gateways.simulator.meter import Faults

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 15, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_cli_serves_meters_until_interrupted() -> None:
    """`pts simulate meters` lists its meters, answers real polls, and stops on SIGINT."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from pts.cli import main; main()", "simulate", "meters",
        "--count", "5", "--port", str(port), "--seed", "3", "--speed", "60",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    lines = [(await asyncio.wait_for(process.stdout.readline(), 20)).decode() for _ in range(5)]
    assert [line.split()[:5] for line in lines] == [
        ["SIM-0000", "sunspec", f"127.0.0.1:{port}", "unit", "1"],
        ["SIM-0001", "sunspec", f"127.0.0.1:{port}", "unit", "2"],
        ["SIM-0002", "sunspec", f"127.0.0.1:{port}", "unit", "3"],
        ["SIM-0003", "sunspec", f"127.0.0.1:{port}", "unit", "4"],
        ["SIM-0004", "yaml", f"127.0.0.1:{port}", "unit", "5"],
    ]
    meters = [
        MeterConfig(
            meter_id=f"SIM-000{i}",
            port=port,
            unit_id=i + 1,
            timeout_s=2,
            map="pts-sim-uint32-le-clock" if i == 4 else "sunspec",
        )
        for i in range(5)
    ]
    poller = MeterPoller(meters, SystemClock())
    try:
        results = await poller.poll_all(datetime.now(UTC).replace(microsecond=0))
    finally:
        await poller.close()
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 20)
    assert [type(r).__name__ for r in results] == ["MeterSample"] * 5
    yaml_meter = results[4]
    assert isinstance(yaml_meter, MeterSample)
    # the simulator runs 60x faster: its meter clock is ahead of ours, and flagged
    assert yaml_meter.ts > yaml_meter.gateway_ts
    assert code == 0


async def test_fleet_of_100_on_10_ports_exact() -> None:
    """100 meters on 10 ports (10 unit ids each), every fifth YAML-mapped: all exact."""
    clock = SteppedClock(T0)
    fleet = make_fleet(clock, 100, T0, seed=11)
    await fleet.start()
    meters = [
        MeterConfig(
            meter_id=m.meter_id,
            port=fleet.address_of(m)[1],
            unit_id=m.unit_id,
            map="sunspec" if m.kind == "sunspec" else "pts-sim-uint32-le",
        )
        for m in fleet.meters
    ]
    poller = MeterPoller(meters, clock)
    try:
        first = await poller.poll_all(T0)
        clock.set(T0 + timedelta(hours=1))
        second = await poller.poll_all(T0 + timedelta(hours=1))
    finally:
        await poller.close()
        await fleet.stop()
    assert len(fleet.ports) == 10
    assert sum(m.kind == "yaml" for m in fleet.meters) == 20
    samples = [r for r in first + second if isinstance(r, MeterSample)]
    assert len(samples) == 200
    assert all(s.energy_wh == fleet.energy_wh_at(s.meter_id, s.ts) for s in samples)
    deltas = [b.energy_wh - a.energy_wh for a, b in zip(first, second, strict=True)
              if isinstance(a, MeterSample) and isinstance(b, MeterSample)]  # fmt: skip
    truths = [fleet.true_energy_wh(m.meter_id, T0, T0 + timedelta(hours=1)) for m in fleet.meters]
    assert deltas == truths
    assert all(t > 0 for t in truths)


async def test_replacement_and_ground_truth_records() -> None:
    """A replaced meter serves a new serial and register; the truth spans both meters."""
    swap = T0 + timedelta(minutes=30)
    clock = SteppedClock(T0)
    faults = {0: Faults(replaced_at=swap, replacement_start_wh=7, replacement_serial="NEW-9")}
    fleet = make_fleet(clock, 1, T0, seed=1, faults=faults)
    await fleet.start()
    poller = MeterPoller([MeterConfig(meter_id="SIM-0000", port=fleet.ports[0])], clock)
    try:
        for minutes in (0, 60):
            clock.set(T0 + timedelta(minutes=minutes))
            await poller.poll_all(T0 + timedelta(minutes=minutes))
    finally:
        await poller.close()
        await fleet.stop()
    end = T0 + timedelta(hours=1)
    after = 7 + fleet.true_energy_wh("SIM-0000", swap, end)
    assert fleet.served_readings() == [
        ServedReading("SIM-0000", "SIM-0000", T0, fleet.energy_wh_at("SIM-0000", T0)),
        ServedReading("SIM-0000", "NEW-9", end, after),
    ]
    assert fleet.energy_wh_at("SIM-0000", end) == after


async def test_accelerated_clock_drives_the_fleet() -> None:
    """With a SimulatedClock at 600x, a real second is ten simulated minutes of production."""
    clock = SimulatedClock(T0, speed=600)
    fleet = make_fleet(clock, 1, T0, seed=2)
    await fleet.start()
    poller = MeterPoller([MeterConfig(meter_id="SIM-0000", port=fleet.ports[0])], clock)
    try:
        first = (await poller.poll_all(clock.now()))[0]
        await clock.sleep_until(clock.now() + timedelta(minutes=10))
        second = (await poller.poll_all(clock.now()))[0]
    finally:
        await poller.close()
        await fleet.stop()
    assert isinstance(first, MeterSample)
    assert isinstance(second, MeterSample)
    served = fleet.served_readings()
    assert [s.energy_wh for s in served] == [first.energy_wh, second.energy_wh]
    assert second.energy_wh - first.energy_wh == fleet.true_energy_wh(
        "SIM-0000", served[0].ts, served[1].ts
    )
    assert second.energy_wh > first.energy_wh
