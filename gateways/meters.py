"""Gateway meter configuration: which meters, on which links, with which register map."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from gateways.errors import ConfigError
from gateways.register_map import EnergyRegister

MAPS_DIR = Path(__file__).parent / "maps"


class MeterConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    meter_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    transport: Literal["tcp", "rtu-over-tcp", "rtu"] = "tcp"
    host: str = "127.0.0.1"
    port: int = Field(default=502, ge=1, le=65535)
    serial_port: str | None = None
    baudrate: int = 9600
    unit_id: int = Field(default=1, ge=0, le=247)
    map: str = Field(default="sunspec", description="'sunspec', a shipped map name or a path")
    sunspec_base: int | None = None  # None: try 40000, 0, 50000
    clock_skew_limit_s: float = 120.0


class MapFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    class Energy(BaseModel):
        model_config = ConfigDict(extra="forbid")
        address: int = Field(ge=0, le=65535)
        function: Literal[3, 4] = 3
        type: Literal["int16", "uint16", "int32", "uint32", "uint64", "float32", "float64"]
        word_order: Literal["big", "little"] = "big"
        byte_order: Literal["big", "little"] = "big"
        scale: int = Field(default=0, ge=-10, le=10)
        scale_factor_address: int | None = None
        multiplier: Decimal = Decimal(1)
        wraps: bool = False

    name: str
    energy: Energy


WRAP_COUNTS = {"int16": 2**15, "uint16": 2**16, "int32": 2**31, "uint32": 2**32, "uint64": 2**64}


def load_map(reference: str) -> EnergyRegister:
    """A YAML register map by shipped name (gateways/maps/NAME.yaml) or by path."""
    path = Path(reference)
    if not path.exists():
        path = MAPS_DIR / f"{reference}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in MAPS_DIR.glob("*.yaml"))
        raise ConfigError(f"register map {reference!r} not found (shipped maps: {known})")
    try:
        spec = MapFile.model_validate(yaml.safe_load(path.read_text())).energy
    except ValueError as exc:
        raise ConfigError(f"register map {path}: {exc}") from exc
    return EnergyRegister(
        address=spec.address,
        kind=spec.type,
        function=spec.function,
        word_order=spec.word_order,
        byte_order=spec.byte_order,
        scale=spec.scale,
        sf_address=spec.scale_factor_address,
        multiplier=spec.multiplier,
        modulus_counts=WRAP_COUNTS.get(spec.type) if spec.wraps else None,
    )
