"""What the stream needs to know of a meter, behind a small port (pure: the registry-backed
directory, which reads the database, is stream.registry_directory)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol


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
