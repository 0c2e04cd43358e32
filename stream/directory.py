"""What the stream needs to know of a meter, behind a small port."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class MeterInfo:
    meter_id: str
    system_id: str
    timezone: str
    capacity_kw_dc: Decimal
    register_modulus_wh: int | None
    provider_id: str | None


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
