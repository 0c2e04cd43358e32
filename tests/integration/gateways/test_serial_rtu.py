"""RTU on a serial line: the poller opens a real tty (a pseudo-terminal) with pyserial.

The simulator's meters answer on the far end of the pty with RTU frames (CRC-16), several
unit ids per line, as meters daisy-chained on one RS-485 bus would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateways.clock import SteppedClock
from gateways.errors import MeterTimeoutError
from gateways.meters import MeterConfig
from gateways.poller import MeterPoller
from gateways.sample import MeterFailure, MeterSample
from gateways.simulator.fleet import MeterFleet, make_fleet
from gateways.simulator.meter import Faults

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 14, tzinfo=UTC)  # 10:00 EDT: the sun is up
TICK = timedelta(minutes=5)


def serial_configs(fleet: MeterFleet) -> list[MeterConfig]:
    return [
        MeterConfig(
            meter_id=m.meter_id,
            transport="rtu",
            serial_port=fleet.serial_port_of(m),
            baudrate=19_200,
            unit_id=m.unit_id,
            map="sunspec" if m.kind == "sunspec" else "pts-sim-uint32-le",
            timeout_s=0.5,
            retries=0,
        )
        for m in fleet.meters
    ]


async def test_meters_on_two_serial_lines_read_exactly_and_a_silent_one_times_out() -> None:
    """6 meters, 3 per line (SunSpec and YAML maps); one stays silent for the second tick:
    every answer equals the register, the silent meter's failure names its serial port."""
    clock = SteppedClock(T0)
    faults = {4: Faults(offline=((T0 + TICK, T0 + 2 * TICK),))}
    fleet = make_fleet(clock, 6, T0, seed=9, faults=faults, units_per_port=3, framing="rtu")
    await fleet.start()
    try:
        assert len(fleet.serial_ports) == 2
        assert all(p.startswith("/dev/pts/") for p in fleet.serial_ports)
        poller = MeterPoller(serial_configs(fleet), clock)
        rounds = []
        for i in range(3):
            clock.set(T0 + i * TICK)
            rounds.append(await poller.poll_all(T0 + i * TICK))
        await poller.close()
    finally:
        await fleet.stop()
    for i, results in enumerate(rounds):
        for result in results:
            if i == 1 and result.meter_id == "SIM-0004":
                assert isinstance(result, MeterFailure)
                assert isinstance(result.error, MeterTimeoutError)
                assert f"on rtu:{fleet.serial_ports[1]}" in result.reason
                continue
            assert isinstance(result, MeterSample), result
            assert result.energy_wh == fleet.energy_wh_at(result.meter_id, T0 + i * TICK)
    assert {m.kind for m in fleet.meters} == {"sunspec", "yaml"}
