"""Poll many meters over Modbus, concurrently across links, one dead meter never stopping others.

One `ModbusLink` per link (TCP host:port, serial port, RTU-over-TCP host:port), shared by the
unit ids behind it; the meters of one link are polled one after another, links concurrently
(at most `max_concurrency` at a time). A SunSpec meter is discovered once (gateways/sunspec.py)
and its energy register remembered; a YAML-mapped meter's register comes from its map. Every
poll gives a `MeterSample` or a `MeterFailure` that says why, in config order.

Timestamps: a sample's `ts` is the meter's clock when its map has one, else the aligned poll
instant; `gateway_ts` is the gateway clock when the answer came. A meter clock further than
`clock_skew_limit_s` from the gateway clock flags the sample CLOCK_SKEW (the value is kept).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from gateways.clock import Clock
from gateways.errors import GatewayError, MeterExceptionError
from gateways.meters import MeterConfig
from gateways.modbus_client import ModbusLink, RegisterReader
from gateways.register_map import EnergyRegister, image_from_reads
from gateways.sample import MeterFailure, MeterSample, PollResult
from gateways.sunspec import SUNSPEC_BASES, SunSpecDiscovery
from gateways.yaml_map import load_map
from schemas.reading import QualityFlag

log = structlog.get_logger(__name__)

LinkFactory = Callable[[MeterConfig], RegisterReader]


class MeterPoller:
    """Polls the configured meters; `poll_all(ts)` once per interval, `close()` at the end."""

    def __init__(
        self,
        meters: Sequence[MeterConfig],
        clock: Clock,
        timeout: float | None = None,
        retries: int | None = None,
        max_concurrency: int = 64,
        link_factory: LinkFactory | None = None,
    ) -> None:
        self._meters = list(meters)
        self._clock = clock
        self._links: dict[str, RegisterReader] = {}
        self._registers: dict[str, EnergyRegister] = {}
        self._failing: dict[str, int] = {}  # meter_id -> failed polls in a row
        self._limit = asyncio.Semaphore(max_concurrency)
        self._make_link: LinkFactory = link_factory or (
            lambda meter: ModbusLink(meter, timeout_s=timeout, retries=retries)
        )
        for meter in self._meters:
            if meter.map != "sunspec":
                self._registers[meter.meter_id] = load_map(meter.map)

    @property
    def links(self) -> dict[str, RegisterReader]:
        return self._links

    def _link(self, meter: MeterConfig) -> RegisterReader:
        link = self._links.get(meter.link)
        if link is None:
            link = self._links[meter.link] = self._make_link(meter)
        return link

    async def poll_all(self, now: datetime) -> list[PollResult]:
        """Poll every meter once for the aligned instant `now`; links concurrently."""
        by_link: dict[str, list[int]] = defaultdict(list)
        for index, meter in enumerate(self._meters):
            by_link[meter.link].append(index)
        results: list[PollResult | None] = [None] * len(self._meters)

        async def poll_link(indexes: list[int]) -> None:
            async with self._limit:
                for index in indexes:
                    results[index] = await self.poll_one(self._meters[index], now)

        await asyncio.gather(*(poll_link(indexes) for indexes in by_link.values()))
        return [r for r in results if r is not None]

    async def poll_one(self, meter: MeterConfig, now: datetime) -> PollResult:
        """Poll one meter; never raises a gateway error, returns it as a MeterFailure."""
        try:
            link = self._link(meter)
            register = self._registers.get(meter.meter_id)
            if register is None:
                register = await self._discover(link, meter)
                self._registers[meter.meter_id] = register
            reads = register.reads()
            answers = [await link.read(meter.unit_id, register.function, first, count)
                       for first, count in reads]  # fmt: skip
            decoded = register.decode(image_from_reads(reads, answers))
        except GatewayError as exc:
            if isinstance(exc, MeterExceptionError) and exc.code == 2 and meter.map == "sunspec":
                self._registers.pop(meter.meter_id, None)  # the device changed: rediscover
            return self._failed(meter, now, exc)
        if self._failing.pop(meter.meter_id, 0):
            log.info("meter_poll_recovered", meter_id=meter.meter_id)
        gateway_ts = self._clock.now()
        flags: frozenset[QualityFlag] = frozenset()
        ts = now
        if decoded.meter_ts is not None:
            ts = decoded.meter_ts
            skew = (decoded.meter_ts - gateway_ts).total_seconds()
            if abs(skew) > meter.clock_skew_limit_s:
                flags = frozenset({QualityFlag.CLOCK_SKEW})
                log.warning("meter_clock_skewed", meter_id=meter.meter_id, skew_s=skew,
                            limit_s=meter.clock_skew_limit_s)  # fmt: skip
        return MeterSample(
            meter_id=meter.meter_id,
            ts=ts,
            gateway_ts=gateway_ts,
            energy_wh=decoded.energy_wh,
            unit_id=meter.unit_id,
            scale_factor=decoded.scale_factor,
            raw_words=decoded.raw_words,
            register_modulus_wh=decoded.register_modulus_wh,
            flags=flags,
        )

    def _failed(self, meter: MeterConfig, now: datetime, exc: GatewayError) -> MeterFailure:
        failures = self._failing.get(meter.meter_id, 0) + 1
        self._failing[meter.meter_id] = failures
        if failures == 1 or failures % 100 == 0:  # first failure, then every 100th
            log.warning("meter_poll_failed", meter_id=meter.meter_id, reason=str(exc),
                        error=type(exc).__name__, failures_in_a_row=failures)  # fmt: skip
        return MeterFailure(meter.meter_id, now, str(exc), exc)

    async def _discover(self, link: RegisterReader, meter: MeterConfig) -> EnergyRegister:
        bases = (meter.sunspec_base,) if meter.sunspec_base is not None else SUNSPEC_BASES
        walk = SunSpecDiscovery(bases, where=f"meter {meter.meter_id}")
        while (request := walk.next_read()) is not None:
            try:
                words = await link.read(meter.unit_id, 3, *request)
            except MeterExceptionError as exc:
                walk.refused(exc)
                continue
            walk.feed(words)
        assert walk.found is not None
        log.info("sunspec_meter_found", meter_id=meter.meter_id, model=walk.found.model_id,
                 address=walk.found.model_address, base=walk.found.base)  # fmt: skip
        return walk.found.register

    async def close(self) -> None:
        for link in self._links.values():
            await link.close()
        self._links.clear()
