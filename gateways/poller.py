"""Poll many meters over Modbus, concurrently per link, one dead meter never stopping others.

One pymodbus client per (host, port) link, shared by the unit ids behind it; requests on a
link go one at a time (a serial bus or a Modbus TCP gateway serves one at a time anyway),
links are polled concurrently. A SunSpec meter is discovered once (marker at 40000, 0 or
50000, then the model chain to a 201–204 meter model) and its energy register remembered.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import structlog
from pymodbus import FramerType
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from gateways.clock import Clock
from gateways.errors import (
    GatewayError,
    MeterConnectionError,
    MeterExceptionError,
    MeterTimeoutError,
    RegisterMapError,
)
from gateways.meters import MeterConfig, load_map
from gateways.register_map import (
    METER_MODELS,
    SUNSPEC_BASES,
    SUNSPEC_MARKER,
    EnergyRegister,
    sunspec_energy_register,
)
from gateways.sample import MeterFailure, MeterSample, PollResult
from schemas.reading import QualityFlag

log = structlog.get_logger(__name__)


class Link:
    """One Modbus TCP (or RTU-over-TCP) connection and the lock that serialises it."""

    def __init__(self, host: str, port: int, framer: FramerType, timeout: float) -> None:
        self.client = AsyncModbusTcpClient(
            host, port=port, framer=framer, timeout=timeout, retries=0, reconnect_delay=0
        )
        self.lock = asyncio.Lock()
        self.name = f"{host}:{port}"

    async def read(self, unit: int, function: int, address: int, count: int) -> tuple[int, ...]:
        what = f"reading {count} registers at {address} from unit {unit} on {self.name}"
        async with self.lock:
            if not self.client.connected and not await self.client.connect():
                raise MeterConnectionError(f"cannot connect to {self.name}")
            try:
                if function == 4:
                    reply = await self.client.read_input_registers(
                        address, count=count, device_id=unit
                    )
                else:
                    reply = await self.client.read_holding_registers(
                        address, count=count, device_id=unit
                    )
            except ModbusIOException as exc:
                self.client.close()  # start clean: a late answer must not meet the next request
                raise MeterTimeoutError(f"no answer {what}") from exc
            except ConnectionException as exc:
                raise MeterConnectionError(f"link lost {what}: {exc}") from exc
            except ModbusException as exc:
                raise MeterConnectionError(f"Modbus error {what}: {exc}") from exc
        if reply.isError():
            raise MeterExceptionError(int(getattr(reply, "exception_code", 0)), what)
        return tuple(int(w) for w in reply.registers)

    def close(self) -> None:
        self.client.close()


class MeterPoller:
    def __init__(self, meters: Sequence[MeterConfig], clock: Clock, timeout: float = 1.0) -> None:
        self._meters = list(meters)
        self._clock = clock
        self._links: dict[tuple[str, int], Link] = {}
        self._registers: dict[str, EnergyRegister] = {}
        self._timeout = timeout
        for meter in self._meters:
            if meter.map != "sunspec":
                self._registers[meter.meter_id] = load_map(meter.map)

    def _link(self, meter: MeterConfig) -> Link:
        key = (meter.host, meter.port)
        if key not in self._links:
            framer = FramerType.RTU if meter.transport == "rtu-over-tcp" else FramerType.SOCKET
            self._links[key] = Link(meter.host, meter.port, framer, self._timeout)
        return self._links[key]

    async def poll_all(self, ts: datetime) -> list[PollResult]:
        """Poll every meter once for the instant `ts`; links in parallel."""
        by_link: dict[tuple[str, int], list[MeterConfig]] = defaultdict(list)
        for meter in self._meters:
            by_link[(meter.host, meter.port)].append(meter)
        groups = await asyncio.gather(*(self._poll_link(meters, ts) for meters in by_link.values()))
        return [result for group in groups for result in group]

    async def _poll_link(self, meters: list[MeterConfig], ts: datetime) -> list[PollResult]:
        return [await self.poll_one(meter, ts) for meter in meters]

    async def poll_one(self, meter: MeterConfig, ts: datetime) -> PollResult:
        link = self._link(meter)
        try:
            register = self._registers.get(meter.meter_id)
            if register is None:
                register = await self._discover(link, meter)
                self._registers[meter.meter_id] = register
            first, count = register.span()
            words = await link.read(meter.unit_id, register.function, first, count)
            energy, scale, raw, modulus = register.decode(words)
        except GatewayError as exc:
            log.warning("meter_poll_failed", meter_id=meter.meter_id, reason=str(exc))
            return MeterFailure(meter.meter_id, ts, str(exc), exc)
        now = self._clock.now()
        flags: frozenset[QualityFlag] = frozenset()
        if abs((now - ts).total_seconds()) > meter.clock_skew_limit_s:
            flags = frozenset({QualityFlag.CLOCK_SKEW})
        return MeterSample(
            meter.meter_id, ts, now, energy, meter.unit_id, scale, raw, modulus, flags
        )

    async def _discover(self, link: Link, meter: MeterConfig) -> EnergyRegister:
        bases = (meter.sunspec_base,) if meter.sunspec_base is not None else SUNSPEC_BASES
        for base in bases:
            try:
                marker = await link.read(meter.unit_id, 3, base, 2)
            except MeterExceptionError as exc:
                if exc.code == 2:  # illegal data address: no marker here, try the next base
                    continue
                raise
            if marker != SUNSPEC_MARKER:
                continue
            address = base + 2
            for _ in range(64):
                model, length = await link.read(meter.unit_id, 3, address, 2)
                if model == 0xFFFF:
                    break
                if model in METER_MODELS:
                    log.info("sunspec_meter_found", meter_id=meter.meter_id, model=model,
                             address=address)  # fmt: skip
                    return sunspec_energy_register(address)
                address += 2 + length
            raise RegisterMapError(
                f"meter {meter.meter_id}: SunSpec chain has no meter model 201-204"
            )
        raise RegisterMapError(
            f"meter {meter.meter_id}: no SunSpec marker at {list(bases)}; give it a YAML map"
        )

    async def close(self) -> None:
        for link in self._links.values():
            link.close()
        self._links.clear()
