"""Gateway meter configuration: which meters, on which links, with which register map."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateways.yaml_map import MAPS_DIR, load_map
from schemas.ids import MeterId

__all__ = ["MAPS_DIR", "GatewayMeters", "MeterConfig", "load_map"]


class MeterConfig(BaseModel):
    """One meter: its link (TCP, RTU serial, RTU over TCP), unit id and register map."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    meter_id: MeterId
    transport: Literal["tcp", "rtu-over-tcp", "rtu"] = "tcp"
    host: str = "127.0.0.1"
    port: int = Field(default=502, ge=1, le=65535)
    serial_port: str | None = None  # e.g. /dev/ttyUSB0, for transport rtu
    baudrate: int = Field(default=9600, gt=0)
    unit_id: int = Field(default=1, ge=0, le=247)
    map: str = Field(default="sunspec", description="'sunspec', a shipped map name or a path")
    sunspec_base: int | None = None  # None: try 40000, 0, 50000
    # timeout_s and retries belong to the link: the first meter configured on a link sets them
    timeout_s: float = Field(default=1.0, gt=0)
    retries: int = Field(default=0, ge=0, le=10)  # retries after a timeout or a lost link
    clock_skew_limit_s: float = Field(default=120.0, gt=0)

    @model_validator(mode="after")
    def _serial_needs_port(self) -> MeterConfig:
        if self.transport == "rtu" and not self.serial_port:
            raise ValueError(f"meter {self.meter_id}: transport rtu needs serial_port")
        return self

    @property
    def link(self) -> str:
        """The link this meter sits on; meters on one link share one connection."""
        if self.transport == "rtu":
            return f"rtu:{self.serial_port}"
        return f"{self.transport}:{self.host}:{self.port}"


class GatewayMeters(BaseModel):
    """The meters a gateway polls and how often."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    interval_s: int = Field(default=300, ge=1)
    meters: list[MeterConfig]

    @model_validator(mode="after")
    def _unique(self) -> GatewayMeters:
        ids = Counter(m.meter_id for m in self.meters)
        duplicates = sorted(i for i, n in ids.items() if n > 1)
        if duplicates:
            raise ValueError(f"meter ids configured twice: {duplicates}")
        units = Counter((m.link, m.unit_id) for m in self.meters)
        shared = sorted(f"{link} unit {unit}" for (link, unit), n in units.items() if n > 1)
        if shared:
            raise ValueError(f"two meters on one link and unit id: {shared}")
        return self
