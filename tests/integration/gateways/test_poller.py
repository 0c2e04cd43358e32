"""The poller against the real simulator over loopback Modbus TCP and RTU over TCP."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from gateways.clock import SteppedClock
from gateways.errors import MeterConnectionError, MeterExceptionError, MeterTimeoutError
from gateways.meters import MeterConfig
from gateways.poller import MeterPoller
from gateways.sample import MeterFailure, MeterSample
from gateways.simulator.fleet import Framing, MeterFleet, make_fleet
from gateways.simulator.meter import ACC32, Faults
from schemas.reading import QualityFlag

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 14, tzinfo=UTC)  # 10:00 EDT: the sun is up
TICK = timedelta(minutes=5)


def configs(fleet: MeterFleet, clock_map: bool = False, **extra: object) -> list[MeterConfig]:
    yaml_map = "pts-sim-uint32-le-clock" if clock_map else "pts-sim-uint32-le"
    return [
        MeterConfig.model_validate(
            {
                "meter_id": m.meter_id,
                "transport": fleet.framing,
                "host": fleet.address_of(m)[0],
                "port": fleet.address_of(m)[1],
                "unit_id": m.unit_id,
                "map": "sunspec" if m.kind == "sunspec" else yaml_map,
                "timeout_s": 0.5,
                "retries": 0,
                **extra,
            }
        )
        for m in fleet.meters
    ]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def clock() -> SteppedClock:
    return SteppedClock(T0)


@contextlib.asynccontextmanager
async def running(fleet: MeterFleet) -> AsyncIterator[None]:
    await fleet.start()
    try:
        yield
    finally:
        await fleet.stop()


@pytest.mark.parametrize("framing", ["tcp", "rtu-over-tcp"])
async def test_values_exact_and_failures_isolated(clock: SteppedClock, framing: Framing) -> None:
    """12 meters on 3 links: one offline, two answering exception codes, one dead link; every
    other meter gives exactly its register, and each failure says clearly what happened."""
    later = (T0 + TICK, T0 + 10 * TICK)
    faults = {
        2: Faults(offline=((T0, T0 + timedelta(days=1)),)),
        5: Faults(exception_code=4, exception_window=later),
        9: Faults(exception_code=2, exception_window=later),  # a YAML meter
    }
    fleet = make_fleet(clock, 12, T0, seed=5, faults=faults, units_per_port=4, framing=framing)
    async with running(fleet):
        dead_port = closed_port()
        dead = MeterConfig(meter_id="DEAD-1", transport=framing, port=dead_port, timeout_s=0.2,
                           retries=0)  # fmt: skip
        meters = [*configs(fleet), dead]
        poller = MeterPoller(meters, clock)
        rounds: list[list[MeterSample | MeterFailure]] = []
        with capture_logs() as logs:
            for i in range(3):
                clock.set(T0 + i * TICK)
                rounds.append(await poller.poll_all(T0 + i * TICK))
        await poller.close()

    host, port_of = "127.0.0.1", {m.meter_id: fleet.address_of(m)[1] for m in fleet.meters}
    link = {mid: f"{framing}:{host}:{port}" for mid, port in port_of.items()}
    failing = {"SIM-0002", "SIM-0005", "SIM-0009", "DEAD-1"}
    for i, results in enumerate(rounds):
        tick = T0 + i * TICK
        assert [r.meter_id for r in results] == [m.meter_id for m in meters]
        for result in results:
            if result.meter_id in failing and not (
                i == 0 and result.meter_id in {"SIM-0005", "SIM-0009"}
            ):
                assert isinstance(result, MeterFailure)
                continue
            assert isinstance(result, MeterSample), result
            assert result.ts == tick
            assert result.energy_wh == fleet.energy_wh_at(result.meter_id, tick)
            assert result.register_modulus_wh == ACC32
            assert result.flags == frozenset()

    offline = rounds[1][2]
    assert isinstance(offline, MeterFailure)
    assert isinstance(offline.error, MeterTimeoutError)
    assert offline.reason == (f"no answer within 0.5 s reading 4 registers at 40000 (function 3)"
                              f" from unit 3 on {link['SIM-0002']}")  # fmt: skip
    sunspec_exc = rounds[1][5]
    assert isinstance(sunspec_exc, MeterFailure)
    assert isinstance(sunspec_exc.error, MeterExceptionError)
    assert sunspec_exc.reason == (
        "meter answered Modbus exception 4 (server device failure) reading 17 registers at"
        f" 40108 (function 3) from unit 2 on {link['SIM-0005']}"
    )
    yaml_exc = rounds[2][9]
    assert isinstance(yaml_exc, MeterFailure)
    assert yaml_exc.reason == (
        "meter answered Modbus exception 2 (illegal data address) reading 2 registers at 256"
        f" (function 3) from unit 2 on {link['SIM-0009']}"
    )
    dead_results = [r[-1] for r in rounds]
    assert all(isinstance(d, MeterFailure) for d in dead_results)
    dead_failures = [d for d in dead_results if isinstance(d, MeterFailure)]
    assert all(isinstance(d.error, MeterConnectionError) for d in dead_failures)
    assert dead_failures[0].reason == (
        f"cannot connect to {framing}:127.0.0.1:{dead_port} (attempt 1; next in 0.5 s)"
    )
    where = re.escape(f"{framing}:127.0.0.1:{dead_port}")
    later_reason = re.compile(
        rf"^(link {where} is down \(next reconnect in \d+\.\d s\)"
        rf"|cannot connect to {where} \(attempt \d+; next in \d+\.\d s\))$"
    )
    assert all(later_reason.match(d.reason) for d in dead_failures[1:])

    failed_logs = [e for e in logs if e["event"] == "meter_poll_failed"]
    assert sorted(e["meter_id"] for e in failed_logs) == sorted(failing)  # once each, not per poll
    assert {e["meter_id"]: e["reason"] for e in failed_logs}["SIM-0005"] == sunspec_exc.reason

    samples = [r for results in rounds for r in results if isinstance(r, MeterSample)]
    assert len(samples) == 3 * 9 + 2  # 9 healthy meters, and 2 before their exceptions began
    served = {(s.meter_id, s.ts, s.energy_wh) for s in fleet.served_readings()}
    assert {(s.meter_id, s.ts, s.energy_wh) for s in samples} == served


async def test_rollover_is_a_smaller_register_with_modulus(clock: SteppedClock) -> None:
    """A meter near the acc32 wrap: the later register is smaller, the modulus tells by how much."""
    fleet = make_fleet(clock, 2, T0, seed=2)
    fleet.meters[0].start_register_wh = ACC32 - 1_000 - fleet.meters[0].registered_wh(T0)
    async with running(fleet):
        poller = MeterPoller(configs(fleet), clock)
        end = T0 + timedelta(hours=3)
        first = (await poller.poll_all(T0))[0]
        clock.set(end)
        second = (await poller.poll_all(end))[0]
        await poller.close()
    assert isinstance(first, MeterSample)
    assert isinstance(second, MeterSample)
    truth = fleet.true_energy_wh("SIM-0000", T0, end)
    assert first.energy_wh == ACC32 - 1_000
    assert second.energy_wh == truth - 1_000
    assert second.energy_wh < first.energy_wh
    assert first.register_modulus_wh == second.register_modulus_wh == ACC32
    assert (second.energy_wh - first.energy_wh) % ACC32 == truth


async def test_meter_clock_skew_is_flagged(clock: SteppedClock) -> None:
    """A meter clock 5 minutes ahead is flagged CLOCK_SKEW; 30 s ahead is not; ts is its clock."""
    faults = {4: Faults(clock_offset_s=300), 9: Faults(clock_offset_s=30)}
    fleet = make_fleet(clock, 10, T0, seed=4, faults=faults)
    async with running(fleet):
        poller = MeterPoller(configs(fleet, clock_map=True), clock)
        with capture_logs() as logs:
            results = await poller.poll_all(T0)
        await poller.close()
    skewed, fine, sunspec = results[4], results[9], results[0]
    assert isinstance(skewed, MeterSample)
    assert isinstance(fine, MeterSample)
    assert isinstance(sunspec, MeterSample)
    assert (skewed.ts, skewed.gateway_ts, skewed.flags) == (
        T0 + timedelta(seconds=300), T0, frozenset({QualityFlag.CLOCK_SKEW}),
    )  # fmt: skip
    assert (fine.ts, fine.flags) == (T0 + timedelta(seconds=30), frozenset())
    assert (sunspec.ts, sunspec.flags) == (T0, frozenset())
    assert skewed.energy_wh == fleet.energy_wh_at("SIM-0004", T0)
    skew_logs = [e for e in logs if e["event"] == "meter_clock_skewed"]
    assert [(e["meter_id"], e["skew_s"]) for e in skew_logs] == [("SIM-0004", 300.0)]


async def test_offline_meter_recovers(clock: SteppedClock) -> None:
    """A meter offline for the first poll answers the next one, and recovery is logged."""
    fleet = make_fleet(clock, 3, T0, seed=6, faults={1: Faults(offline=((T0, T0 + TICK),))})
    async with running(fleet):
        poller = MeterPoller(configs(fleet), clock)
        with capture_logs() as logs:
            first = await poller.poll_all(T0)
            clock.set(T0 + TICK)
            second = await poller.poll_all(T0 + TICK)
        await poller.close()
    assert [type(r).__name__ for r in first] == ["MeterSample", "MeterFailure", "MeterSample"]
    assert [type(r).__name__ for r in second] == ["MeterSample"] * 3
    assert second[1].energy_wh == fleet.energy_wh_at("SIM-0001", T0 + TICK)  # type: ignore[union-attr]
    events = [(e["event"], e["meter_id"]) for e in logs if e["event"].startswith("meter_poll")]
    assert events == [("meter_poll_failed", "SIM-0001"), ("meter_poll_recovered", "SIM-0001")]


@pytest.mark.parametrize("framing", ["tcp", "rtu-over-tcp"])
async def test_garbage_mid_read_is_a_failed_poll_never_a_value(
    clock: SteppedClock, framing: Framing
) -> None:
    """A meter that answers its energy read with a malformed frame for two polls: those
    polls fail with a reason (nothing is sampled, so no wrong value can be stored); the
    meter's next answer is exact, the other meters never notice, and the link recovers."""
    garbage = (T0 + TICK, T0 + 3 * TICK)
    fleet = make_fleet(clock, 3, T0, seed=8, framing=framing,
                       faults={1: Faults(garbage_window=garbage)})  # fmt: skip
    async with running(fleet):
        poller = MeterPoller(configs(fleet), clock)
        rounds = []
        with capture_logs() as logs:
            for i in range(5):
                clock.set(T0 + i * TICK)
                rounds.append(await poller.poll_all(T0 + i * TICK))
        await poller.close()
    kinds = [[type(r).__name__ for r in results] for results in rounds]
    assert [k[1] for k in kinds] == [
        "MeterSample", "MeterFailure", "MeterFailure", "MeterSample", "MeterSample",
    ]  # fmt: skip
    assert all(k[0] == k[2] == "MeterSample" for k in kinds)
    for i in (0, 3, 4):
        sample = rounds[i][1]
        assert isinstance(sample, MeterSample)
        assert sample.energy_wh == fleet.energy_wh_at("SIM-0001", T0 + i * TICK)
    failures = [e for e in logs if e["event"] == "meter_poll_failed"]
    assert [e["meter_id"] for e in failures] == ["SIM-0001"]
    assert failures[0]["reason"]
    assert [ts for ts, _ in fleet.meters[1].served] == [T0 + i * TICK for i in (0, 3, 4)]
