"""YAML register maps for meters that do not speak SunSpec.

A map names where the cumulative delivered-energy register is and how to read it:

    name: acme-e3
    energy:
      address: 256            # first register (0-based protocol address)
      function: 3             # 3 holding, 4 input registers
      type: uint32            # int16 uint16 int32 uint32 uint64 float32 float64
      word_order: big         # big: most significant word first
      byte_order: big         # order of the two bytes inside each register
      scale: 0                # fixed power of ten (Wh = raw × 10^scale × multiplier) …
      scale_factor_address: 270   # … or an int16 scale-factor register, read in one request
      multiplier: 1           # e.g. 1000 for a kWh register, a CT ratio
      wraps: true             # the register rolls over to 0 after 2^bits counts
    clock:                    # optional: the meter's clock, seconds since the UTC epoch
      address: 258
      type: uint32
      word_order: big

Shipped maps live in gateways/maps/NAME.yaml; a meter names one by NAME or by path.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateways.errors import ConfigError, RegisterMapError
from gateways.register_map import WRAP_COUNTS, ClockRegister, EnergyRegister
from schemas.yaml_document import YamlRefused, load_yaml

MAPS_DIR = Path(__file__).parent / "maps"


class EnergySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    address: int = Field(ge=0, le=65535)
    function: Literal[3, 4] = 3
    type: Literal["int16", "uint16", "int32", "uint32", "uint64", "float32", "float64"]
    word_order: Literal["big", "little"] = "big"
    byte_order: Literal["big", "little"] = "big"
    scale: int = Field(default=0, ge=-10, le=10)
    scale_factor_address: int | None = Field(default=None, ge=0, le=65535)
    multiplier: Decimal = Field(default=Decimal(1), gt=0)
    wraps: bool = False

    @model_validator(mode="after")
    def _wrap_needs_unsigned(self) -> EnergySpec:
        if self.wraps and self.type not in WRAP_COUNTS:
            raise ValueError(f"wraps: true needs an unsigned integer type, not {self.type}")
        if self.scale_factor_address is not None and self.scale != 0:
            raise ValueError("give either scale or scale_factor_address, not both")
        return self


class ClockSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    address: int = Field(ge=0, le=65535)
    type: Literal["uint32", "uint64"] = "uint32"
    word_order: Literal["big", "little"] = "big"


class MapFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    energy: EnergySpec
    clock: ClockSpec | None = None

    def register(self) -> EnergyRegister:
        spec = self.energy
        clock = None
        if self.clock is not None:
            clock = ClockRegister(self.clock.address, self.clock.type, self.clock.word_order)
        return EnergyRegister(
            address=spec.address,
            kind=spec.type,
            function=spec.function,
            word_order=spec.word_order,
            byte_order=spec.byte_order,
            scale=spec.scale,
            sf_address=spec.scale_factor_address,
            multiplier=spec.multiplier,
            modulus_counts=WRAP_COUNTS[spec.type] if spec.wraps else None,
            clock=clock,
        )


def parse_map(data: Any, where: str = "register map") -> EnergyRegister:
    """An EnergyRegister from a map's parsed YAML; ConfigError says what is wrong."""
    try:
        register = MapFile.model_validate(data).register()
        register.reads()  # refused now, not at every poll: blocks within the register space
    except (ValueError, RegisterMapError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return register


def find_map(reference: str) -> Path:
    """The file of a map given by shipped name or by path."""
    path = Path(reference)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    shipped = MAPS_DIR / f"{reference}.yaml"
    if shipped.exists():
        return shipped
    known = sorted(p.stem for p in MAPS_DIR.glob("*.yaml"))
    raise ConfigError(f"register map {reference!r} not found (a path, or one of {known})")


def read_map(text: str, where: str = "register map") -> EnergyRegister:
    """An EnergyRegister from a map's YAML text; ConfigError says what is wrong."""
    try:
        data = load_yaml(text, where)
    except YamlRefused as exc:
        raise ConfigError(str(exc).replace(f"{where} ", f"{where}: ", 1)) from exc
    return parse_map(data, where)


def load_map(reference: str) -> EnergyRegister:
    """A YAML register map by shipped name (gateways/maps/NAME.yaml) or by path."""
    path = find_map(reference)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"register map {path}: {exc}") from exc
    return read_map(text, f"register map {path}")
