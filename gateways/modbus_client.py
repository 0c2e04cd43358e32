"""Modbus links: one pymodbus async client per link, shared by the unit ids behind it.

A link is a TCP socket (Modbus TCP), a serial port (RTU) or a TCP socket carrying RTU frames
(RTU over TCP, e.g. a serial-to-Ethernet converter). Requests on one link go one at a time:
a serial bus, and most Modbus TCP gateways, serve one request at a time anyway.

Failures are translated here, at the boundary, into gateways.errors:
- no connection → MeterConnectionError; reconnects wait a backoff that doubles per failed
  attempt (0.5 s … 30 s), and reads in between fail at once instead of waiting again;
- no answer in `timeout_s` → MeterTimeoutError, retried `retries` times with backoff; the
  connection is then dropped so that a late answer never meets the next request;
- an exception response → MeterExceptionError with the code and its name (not retried).
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from typing import Protocol

import structlog
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from gateways.errors import (
    ConfigError,
    MeterConnectionError,
    MeterExceptionError,
    MeterTimeoutError,
    TransientError,
)
from gateways.meters import MeterConfig

log = structlog.get_logger(__name__)

RETRY_BACKOFF_S = 0.05
RECONNECT_BACKOFF_S = 0.5
RECONNECT_BACKOFF_MAX_S = 30.0


class RegisterReader(Protocol):
    """The port the poller reads registers through."""

    name: str

    async def read(self, unit: int, function: int, address: int, count: int) -> tuple[int, ...]:
        """`count` registers from `address` with function 3 or 4, or a gateways error."""

    async def close(self) -> None:
        """Drop the connection."""


def _client(meter: MeterConfig, timeout_s: float) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
    if meter.transport == "rtu":
        assert meter.serial_port is not None
        if importlib.util.find_spec("serial") is None:  # pymodbus needs pyserial for serial
            raise ConfigError(
                f"meter {meter.meter_id}: transport rtu needs pyserial (pip install pyserial)"
            )
        return AsyncModbusSerialClient(meter.serial_port, framer=FramerType.RTU,
                                       baudrate=meter.baudrate, timeout=timeout_s, retries=0,
                                       reconnect_delay=0)  # fmt: skip
    framer = FramerType.RTU if meter.transport == "rtu-over-tcp" else FramerType.SOCKET
    return AsyncModbusTcpClient(meter.host, port=meter.port, framer=framer, timeout=timeout_s,
                                retries=0, reconnect_delay=0)  # fmt: skip


class ModbusLink:
    """One connection and the lock that serialises its requests."""

    def __init__(self, meter: MeterConfig, timeout_s: float | None = None,
                 retries: int | None = None) -> None:  # fmt: skip
        self.name = meter.link
        self.timeout_s = timeout_s if timeout_s is not None else meter.timeout_s
        self.retries = retries if retries is not None else meter.retries
        self.client = _client(meter, self.timeout_s)
        self.lock = asyncio.Lock()
        self.requests = 0  # requests sent, for benchmarks
        self._connect_failures = 0
        self._next_connect = 0.0  # monotonic instant before which no reconnect is tried

    async def read(self, unit: int, function: int, address: int, count: int) -> tuple[int, ...]:
        what = f"reading {count} registers at {address} (function {function}) from unit {unit}" \
               f" on {self.name}"  # fmt: skip
        async with self.lock:
            attempt = 0
            while True:
                try:
                    return await self._read_once(unit, function, address, count, what)
                except TransientError:
                    if attempt >= self.retries:
                        raise
                    attempt += 1
                    await asyncio.sleep(RETRY_BACKOFF_S * 2 ** (attempt - 1))

    async def _read_once(self, unit: int, function: int, address: int, count: int,
                         what: str) -> tuple[int, ...]:  # fmt: skip
        await self._ensure_connected()
        self.requests += 1
        try:
            if function == 4:
                reply = await self.client.read_input_registers(address, count=count,
                                                               device_id=unit)  # fmt: skip
            else:
                reply = await self.client.read_holding_registers(address, count=count,
                                                                 device_id=unit)  # fmt: skip
        except ModbusIOException as exc:
            self.client.close()  # start clean: a late answer must not meet the next request
            raise MeterTimeoutError(f"no answer within {self.timeout_s} s {what}") from exc
        except ConnectionException as exc:
            self.client.close()
            raise MeterConnectionError(f"link lost {what}: {exc}") from exc
        except ModbusException as exc:
            self.client.close()
            raise MeterConnectionError(f"Modbus error {what}: {exc}") from exc
        if reply.isError():
            raise MeterExceptionError(int(getattr(reply, "exception_code", 0)), what)
        words = tuple(int(w) for w in reply.registers)
        if len(words) != count:
            raise MeterConnectionError(f"asked {count} registers, got {len(words)} {what}")
        return words

    async def _ensure_connected(self) -> None:
        if self.client.connected:
            return
        wait = self._next_connect - time.monotonic()
        if wait > 0:
            raise MeterConnectionError(f"link {self.name} is down (next reconnect in {wait:.1f} s)")
        try:
            connected = await self.client.connect()
        except (OSError, ModbusException) as exc:
            connected = False
            log.debug("link_connect_raised", link=self.name, error=str(exc))
        if connected:
            if self._connect_failures:
                log.info("link_reconnected", link=self.name, failures=self._connect_failures)
            self._connect_failures = 0
            return
        self._connect_failures += 1
        backoff = min(RECONNECT_BACKOFF_S * 2 ** (self._connect_failures - 1),
                      RECONNECT_BACKOFF_MAX_S)  # fmt: skip
        self._next_connect = time.monotonic() + backoff
        raise MeterConnectionError(
            f"cannot connect to {self.name} (attempt {self._connect_failures};"
            f" next in {backoff:.1f} s)"
        )

    async def close(self) -> None:
        self.client.close()
