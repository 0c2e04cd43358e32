"""Links: retries with backoff, reconnect backoff, and recovery after the meters come back."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import pytest

from gateways import modbus_client
from gateways.clock import SteppedClock
from gateways.errors import MeterConnectionError, MeterTimeoutError, TransientError
from gateways.meters import MeterConfig
from gateways.modbus_client import ModbusLink
from gateways.poller import MeterPoller
from gateways.sample import MeterFailure, MeterSample
from gateways.simulator.fleet import make_fleet
from gateways.simulator.meter import SUNSPEC_ENERGY_ADDRESS, Faults

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 15, tzinfo=UTC)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_timeouts_are_retried_then_reported() -> None:
    """With retries=2 a silent meter is asked three times before the timeout is reported."""
    clock = SteppedClock(T0)
    fleet = make_fleet(clock, 1, T0, faults={0: Faults(offline=((T0, T0 + timedelta(1)),))})
    await fleet.start()
    config = MeterConfig(meter_id="M", port=fleet.ports[0], timeout_s=0.1, retries=2)
    link = ModbusLink(config)
    try:
        with pytest.raises(MeterTimeoutError) as caught:
            await link.read(1, 3, SUNSPEC_ENERGY_ADDRESS, 2)
    finally:
        await link.close()
        await fleet.stop()
    assert link.requests == 3
    assert str(caught.value) == (
        f"no answer within 0.1 s reading 2 registers at {SUNSPEC_ENERGY_ADDRESS} (function 3)"
        f" from unit 1 on tcp:127.0.0.1:{fleet.ports[0]}"
    )


class StoppedTime:
    """`time` as gateways.modbus_client sees it: monotonic time moves only when the test
    moves it, so a backoff is judged at exact instants whatever the machine's load."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now


async def test_reconnect_backs_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection is not retried before its backoff; the backoff doubles."""
    clock = StoppedTime()
    monkeypatch.setattr(modbus_client, "time", clock)
    port = closed_port()
    link = ModbusLink(MeterConfig(meter_id="M", port=port, timeout_s=0.2))
    messages = []
    for pause in (0.0, 0.4, 0.2, 0.9):
        clock.now += pause
        with pytest.raises(MeterConnectionError) as caught:
            await link.read(1, 3, 0, 2)
        messages.append(str(caught.value))
    await link.close()
    assert messages == [
        f"cannot connect to tcp:127.0.0.1:{port} (attempt 1; next in 0.5 s)",
        f"link tcp:127.0.0.1:{port} is down (next reconnect in 0.1 s)",
        f"cannot connect to tcp:127.0.0.1:{port} (attempt 2; next in 1.0 s)",
        f"link tcp:127.0.0.1:{port} is down (next reconnect in 0.1 s)",
    ]
    assert link.requests == 0


async def test_poller_reconnects_when_the_meters_come_back() -> None:
    """The simulator stops (link lost) and starts again on the same port: polling resumes."""
    clock = SteppedClock(T0)
    fleet = make_fleet(clock, 3, T0, seed=8)
    await fleet.start()
    port = fleet.ports[0]
    meters = [
        MeterConfig(meter_id=m.meter_id, port=port, unit_id=m.unit_id, timeout_s=0.5)
        for m in fleet.meters
    ]
    poller = MeterPoller(meters, clock)
    try:
        before = await poller.poll_all(T0)
        await fleet.stop()
        fleet.ports.clear()
        down = await poller.poll_all(T0 + timedelta(minutes=5))
        fleet.base_port = port
        await fleet.start()
        await asyncio.sleep(0.6)  # past the first reconnect backoff
        tick = T0 + timedelta(minutes=10)
        clock.set(tick)
        after = await poller.poll_all(tick)
    finally:
        await poller.close()
        await fleet.stop()
    assert [type(r) for r in before] == [MeterSample] * 3
    assert [type(r) for r in down] == [MeterFailure] * 3
    # the first request meets the closed socket (a timeout here), the others a refused reconnect
    errors = [r.error for r in down if isinstance(r, MeterFailure)]
    assert len(errors) == 3
    assert all(isinstance(e, TransientError) for e in errors)
    assert isinstance(errors[-1], MeterConnectionError)
    assert [r.energy_wh for r in after if isinstance(r, MeterSample)] == [
        fleet.energy_wh_at(m.meter_id, tick) for m in fleet.meters
    ]
