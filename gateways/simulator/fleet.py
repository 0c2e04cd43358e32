"""A fleet of simulated meters behind real Modbus TCP servers on loopback.

Each server port serves up to `units_per_port` meters as distinct unit ids, framed as Modbus
TCP (MBAP), as RTU over TCP, or as RTU on a serial line: framing "rtu" opens a pseudo-terminal
per group of meters, and the gateway opens its other end as a serial port (pyserial, termios),
exactly as it would open /dev/ttyUSB0 (no baud-rate timing: a pty delivers bytes at once).
Time comes from a Clock: a SteppedClock for exact, fast
simulations, a SimulatedClock for accelerated real time, the SystemClock for the CLI.

Ground truth: every energy value served is recorded per meter (meter clock ts, Wh), and the
fleet answers what a meter's register showed at any instant (`energy_wh_at`) and the energy
it truly registered between two instants (`true_energy_wh`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import structlog

from gateways import modbus_pdu
from gateways.clock import Clock
from gateways.modbus_pdu import ReadRequest
from gateways.simulator import rtu_frames
from gateways.simulator.meter import Faults, SimulatedMeter
from gateways.simulator.solar import SolarProfile

log = structlog.get_logger(__name__)

Framing = Literal["tcp", "rtu-over-tcp", "rtu"]
CAPACITIES_W = (8_000, 9_500, 25_000, 50_000, 120_000, 400_000)


@dataclass(frozen=True, slots=True)
class ServedReading:
    meter_id: str
    serial: str
    ts: datetime
    energy_wh: int


@dataclass
class MeterFleet:
    clock: Clock
    meters: list[SimulatedMeter]
    host: str = "127.0.0.1"
    base_port: int = 0  # 0: pick free ports
    units_per_port: int = 10
    framing: Framing = "tcp"
    ports: list[int] = field(default_factory=list)
    serial_ports: list[str] = field(default_factory=list)  # framing "rtu": the pty device paths
    # record every energy value served (the ground truth tests read); off for `pts simulate
    # meters`, which serves for as long as it runs and whose truth nobody reads
    keep_served: bool = True
    requests: int = 0  # read requests answered (for benchmarks)
    _servers: list[asyncio.Server] = field(default_factory=list)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    # framing "rtu": per line, the serving task, the pty's read transport and its slave fd
    _lines: list[tuple[asyncio.Task[None], asyncio.BaseTransport, int]] = field(
        default_factory=list
    )

    def by_port(self) -> list[dict[int, SimulatedMeter]]:
        groups: list[dict[int, SimulatedMeter]] = []
        for index, meter in enumerate(self.meters):
            if index % self.units_per_port == 0:
                groups.append({})
            groups[-1][meter.unit_id] = meter
        return groups

    async def start(self) -> None:
        if self.framing == "rtu":
            for units in self.by_port():
                self.serial_ports.append(await self._open_line(units))
            log.info("simulator_started", meters=len(self.meters), serial_ports=self.serial_ports,
                     framing=self.framing)  # fmt: skip
            return
        for index, units in enumerate(self.by_port()):
            port = self.base_port + index if self.base_port else 0
            server = await asyncio.start_server(
                functools.partial(self._serve, units=units), self.host, port
            )
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])
        log.info("simulator_started", meters=len(self.meters), ports=self.ports,
                 framing=self.framing)  # fmt: skip

    async def _open_line(self, units: dict[int, SimulatedMeter]) -> str:
        """A pseudo-terminal whose far end is these meters' RTU bus; returns the device path."""
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: bytes as on the wire
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        incoming, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(master, "rb", buffering=0)
        )
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(os.dup(master), "wb", buffering=0)
        )
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        # the slave stays open here too, so the line survives the gateway closing its port
        serving = asyncio.create_task(self._serve(reader, writer, units))
        self._lines.append((serving, incoming, slave))
        return os.ttyname(slave)

    async def stop(self) -> None:
        """Stop listening and drop every open connection, as a stopped device would."""
        for task, incoming, slave in self._lines:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # closes the writing side
            incoming.close()
            os.close(slave)
        self._lines.clear()
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    def serial_port_of(self, meter: SimulatedMeter) -> str:
        """The device path of the pseudo-terminal a meter answers on (framing "rtu")."""
        return self.serial_ports[self.meters.index(meter) // self.units_per_port]

    def address_of(self, meter: SimulatedMeter) -> tuple[str, int]:
        index = self.meters.index(meter) // self.units_per_port
        return self.host, self.ports[index]

    def meter(self, meter_id: str) -> SimulatedMeter:
        for meter in self.meters:
            if meter.meter_id == meter_id:
                return meter
        raise KeyError(f"no simulated meter {meter_id!r}")

    # ground truth
    def energy_wh_at(self, meter_id: str, ts: datetime) -> int:
        """What the meter's energy register showed at `ts` (Wh)."""
        return self.meter(meter_id).register_value(ts)

    def true_energy_wh(self, meter_id: str, start: datetime, end: datetime) -> int:
        """Energy the meter truly registered between two instants (Wh)."""
        return self.meter(meter_id).truth_wh(start, end)

    def served_readings(self) -> list[ServedReading]:
        """Every energy value served, meter by meter, in the order served."""
        return [ServedReading(m.meter_id, m.serial_at(ts), ts, wh)
                for m in self.meters for ts, wh in m.served]  # fmt: skip

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        units: dict[int, SimulatedMeter],
    ) -> None:
        parse: Callable[[bytearray], list[ReadRequest | tuple[int, int, int]]]
        parse = rtu_frames.parse_requests if self.framing != "tcp" else (
            modbus_pdu.parse_requests)  # fmt: skip
        buffer = bytearray()
        self._writers.add(writer)
        try:
            while chunk := await reader.read(4096):
                buffer += chunk
                for request in parse(buffer):
                    reply = self._answer(request, units)
                    if reply is not None:
                        writer.write(reply)
                await writer.drain()
        except (ConnectionResetError, BrokenPipeError, asyncio.CancelledError):
            pass  # the client went away, or the fleet is stopping
        finally:
            self._writers.discard(writer)
            writer.close()

    def _answer(
        self, request: ReadRequest | tuple[int, int, int], units: dict[int, SimulatedMeter]
    ) -> bytes | None:
        rtu = self.framing != "tcp"
        exception = rtu_frames.exception_response if rtu else modbus_pdu.exception_response
        if not isinstance(request, ReadRequest):
            tid, unit, function = request
            return exception(tid, unit, function, 1)
        meter = units.get(request.unit_id)
        if meter is None:
            if rtu:
                return None  # nobody on the bus answers to that unit id
            return exception(request.transaction_id, request.unit_id, request.function, 11)
        now = self.clock.now()
        if meter.offline_at(now):
            return None  # a dead meter does not answer
        self.requests += 1
        if not 1 <= request.count <= modbus_pdu.MAX_READ:
            return exception(request.transaction_id, request.unit_id, request.function, 3)
        words = meter.words(now, request.function, request.address, request.count)
        if isinstance(words, int):
            return exception(request.transaction_id, request.unit_id, request.function, words)
        if meter.serves_energy(request.address, request.count):
            if meter.garbage_at(now):
                return _garbled(request, rtu)  # nothing served: the reading never existed
            if self.keep_served:
                meter.served.append((meter.meter_time(now), meter.register_value(now)))
        if rtu:
            return rtu_frames.read_response(request, words)
        return modbus_pdu.read_response(request, words)


def _garbled(request: ReadRequest, rtu: bool) -> bytes:
    """A reply to the read that is no valid frame: the byte count promises the words asked
    for, but half of them and noise follow (a meter failing mid-answer)."""
    words = [0xA5A5] * max(1, request.count // 2)
    reply = (rtu_frames.read_response if rtu else modbus_pdu.read_response)(request, words)
    header = 7 if not rtu else 1  # MBAP header; RTU: the unit id
    patched = bytearray(reply)
    patched[header + 1] = 2 * request.count  # the byte count of a whole answer
    return bytes(patched)


def make_fleet(
    clock: Clock,
    count: int,
    origin: datetime,
    seed: int = 1,
    yaml_every: int = 5,
    faults: dict[int, Faults] | None = None,
    units_per_port: int = 10,
    framing: Framing = "tcp",
) -> MeterFleet:
    """`count` meters of 8–400 kW DC; every `yaml_every`-th a non-SunSpec (YAML-mapped) meter.

    Meter `i` is SIM-{i:04d}, unit id 1 + i % units_per_port; `faults` by meter index.
    """
    rnd = random.Random(seed)
    meters = []
    for index in range(count):
        capacity_w = rnd.choice(CAPACITIES_W)
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
    return MeterFleet(clock, meters, units_per_port=units_per_port, framing=framing)
