"""What the stream needs to know of a meter, behind a small port."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import psycopg

from storage import energy_store


@dataclass(frozen=True, slots=True)
class MeterInfo:
    meter_id: str
    system_id: str
    timezone: str
    capacity_kw_dc: Decimal
    register_modulus_wh: int | None
    provider_id: str | None


def meter_infos(rows: Iterable[tuple[Any, ...]]) -> list[MeterInfo]:
    """MeterInfo of registry rows (meter_id, system_id, timezone, capacity_kw_dc,
    register_modulus_wh, das_provider_id), as storage.energy_store reads them."""
    return [MeterInfo(r[0], r[1], r[2], Decimal(r[3]), r[4], r[5]) for r in rows]


class MeterDirectory(Protocol):
    def get(self, meter_id: str) -> MeterInfo | None:
        """The meter's registry facts, or None for an unknown meter."""


class StaticDirectory:
    """A directory held in memory (loaded once from the registry, or built by tests)."""

    def __init__(self, meters: Iterable[MeterInfo]) -> None:
        self._meters = {m.meter_id: m for m in meters}

    def get(self, meter_id: str) -> MeterInfo | None:
        return self._meters.get(meter_id)

    def __len__(self) -> int:
        return len(self._meters)


class RegistryDirectory:
    """A snapshot of the registry's meters, reloaded (at most every `min_interval` seconds)
    when a message names a meter the snapshot does not know.

    The engine awaits `refresh_for` before running the pure core, so `get` never does I/O.
    """

    def __init__(
        self, min_interval: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._snapshot = StaticDirectory(())
        self._min_interval = min_interval
        self._clock = clock
        self._loaded_at: float | None = None

    def get(self, meter_id: str) -> MeterInfo | None:
        return self._snapshot.get(meter_id)

    async def load(self, aconn: psycopg.AsyncConnection[Any]) -> None:
        rows = await energy_store.load_directory_rows(aconn)
        self._snapshot = StaticDirectory(meter_infos(rows))
        self._loaded_at = self._clock()

    async def refresh_for(
        self, aconn: psycopg.AsyncConnection[Any], meter_ids: Iterable[str]
    ) -> None:
        """Reload if some meter is unknown and the last load is old enough."""
        if self._loaded_at is not None and all(self.get(m) for m in meter_ids):
            return
        if self._loaded_at is None or self._clock() - self._loaded_at >= self._min_interval:
            await self.load(aconn)
