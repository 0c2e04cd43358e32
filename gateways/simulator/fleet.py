"""A fleet of simulated meters behind real Modbus TCP servers on loopback.

Each server port serves up to `units_per_port` meters as distinct unit ids. Time comes from
a Clock (a SteppedClock for accelerated, exact simulations). Every value served is logged
per meter, so a test can check that every served reading arrived.
"""

from __future__ import annotations

import asyncio
import functools
import random
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from gateways.clock import Clock
from gateways.modbus_pdu import ReadRequest, exception_response, parse_requests, read_response
from gateways.simulator.meter import Faults, SimulatedMeter
from gateways.simulator.solar import SolarProfile

log = structlog.get_logger(__name__)


@dataclass
class MeterFleet:
    clock: Clock
    meters: list[SimulatedMeter]
    host: str = "127.0.0.1"
    base_port: int = 0  # 0: pick free ports
    units_per_port: int = 10
    ports: list[int] = field(default_factory=list)
    _servers: list[asyncio.Server] = field(default_factory=list)

    def by_port(self) -> list[dict[int, SimulatedMeter]]:
        groups: list[dict[int, SimulatedMeter]] = []
        for index, meter in enumerate(self.meters):
            if index % self.units_per_port == 0:
                groups.append({})
            groups[-1][meter.unit_id] = meter
        return groups

    async def start(self) -> None:
        for index, units in enumerate(self.by_port()):
            port = self.base_port + index if self.base_port else 0
            server = await asyncio.start_server(
                functools.partial(self._serve, units=units), self.host, port
            )
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])
        log.info("simulator_started", meters=len(self.meters), ports=self.ports)

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    def address_of(self, meter: SimulatedMeter) -> tuple[str, int]:
        index = self.meters.index(meter) // self.units_per_port
        return self.host, self.ports[index]

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        units: dict[int, SimulatedMeter],
    ) -> None:
        buffer = bytearray()
        try:
            while chunk := await reader.read(4096):
                buffer += chunk
                for request in parse_requests(buffer):
                    reply = self._answer(request, units)
                    if reply is not None:
                        writer.write(reply)
                await writer.drain()
        except (ConnectionResetError, BrokenPipeError, asyncio.CancelledError):
            pass  # the client went away, or the fleet is stopping
        finally:
            writer.close()

    def _answer(
        self, request: ReadRequest | tuple[int, int, int], units: dict[int, SimulatedMeter]
    ) -> bytes | None:
        if not isinstance(request, ReadRequest):
            tid, unit, function = request
            return exception_response(tid, unit, function, 1)
        meter = units.get(request.unit_id)
        if meter is None:
            return exception_response(request.transaction_id, request.unit_id, request.function, 11)
        now = self.clock.now()
        if meter.offline_at(now):
            return None  # a dead meter does not answer
        words = meter.words(now, request.function, request.address, request.count)
        if isinstance(words, int):
            return exception_response(
                request.transaction_id, request.unit_id, request.function, words
            )
        if (
            request.count >= 2 and meter.kind == "sunspec" and request.address > 40002
        ) or meter.kind == "yaml":
            meter.served.append((now, meter.register_value(now)))
        return read_response(request, words)


def make_fleet(
    clock: Clock,
    count: int,
    origin: datetime,
    seed: int = 1,
    yaml_every: int = 5,
    faults: dict[int, Faults] | None = None,
    units_per_port: int = 10,
) -> MeterFleet:
    """`count` meters of 8–400 kW; every `yaml_every`-th a non-SunSpec (YAML-mapped) meter."""
    rnd = random.Random(seed)
    meters = []
    for index in range(count):
        capacity_w = rnd.choice([8_000, 9_500, 25_000, 50_000, 120_000, 400_000])
        meters.append(
            SimulatedMeter(
                meter_id=f"SIM-{index:04d}",
                unit_id=1 + index % units_per_port,
                profile=SolarProfile(capacity_w, seed * 10_007 + index, origin),
                start_register_wh=rnd.randrange(0, 50_000_000),
                kind="yaml" if yaml_every and index % yaml_every == yaml_every - 1 else "sunspec",
                faults=(faults or {}).get(index, Faults()),
            )
        )
    return MeterFleet(clock, meters, units_per_port=units_per_port)
