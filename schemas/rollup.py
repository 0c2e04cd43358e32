"""Derived energy per meter and local calendar month."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.ids import MeterId
from schemas.reading import QualityFlag


class MonthlyMeterEnergy(BaseModel):
    """A meter's energy for one calendar month in its system's time zone, integer Wh."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    meter_id: MeterId
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, local time")
    energy_wh: int = Field(ge=0)
    reading_count: int = Field(ge=0)
    flags: frozenset[QualityFlag] = frozenset()
