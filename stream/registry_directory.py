"""The registry-backed meter directory: a snapshot of the registry's meters read from the
database (the pure port and the in-memory directory are stream.directory)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

from storage import directory_store
from stream.directory import MeterInfo, StaticDirectory, meter_infos

__all__ = ["MeterInfo", "RegistryDirectory"]


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
        rows = await directory_store.load_directory_rows(aconn)
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
