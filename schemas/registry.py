"""Registry records: systems, meters and DAS providers as PTS registers them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.ids import MeterId, ProviderId, SystemId


class Program(StrEnum):
    """The incentive program a system is qualified under."""

    SREC_I = "srec_i"
    SREC_II = "srec_ii"
    CLASS_I = "class_i"
    FUNDED = "funded"
    OTHER = "other"


class ReportingMethod(StrEnum):
    """How production reaches PTS."""

    MANUAL = "manual"  # the System Representative types a monthly register reading
    AUTOMATIC = "automatic"  # a DAS provider (or our gateway) reports it


class AccuracyClass(StrEnum):
    """Revenue-meter accuracy class, as a ± percentage."""

    PCT_2 = "2.0"
    PCT_1 = "1.0"
    PCT_0_5 = "0.5"
    PCT_0_2 = "0.2"

    @property
    def percent(self) -> Decimal:
        return Decimal(self.value)


class System(BaseModel):
    """A generating system registered with PTS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system_id: SystemId
    name: str = ""
    owner_id: str = Field(min_length=1, description="account id of the System Owner")
    rec_owner_id: str | None = Field(
        default=None, description="account id of the REC Owner; None means the System Owner"
    )
    representative_id: str | None = Field(
        default=None, description="account id of the System Representative (or a DAS provider id)"
    )
    address: str = ""
    timezone: str = "America/New_York"
    capacity_kw_dc: Decimal = Field(gt=0, max_digits=12, decimal_places=3)
    capacity_kw_ac: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=3)
    program: Program = Program.SREC_II
    srec_factor: Decimal = Field(default=Decimal("1.0"), ge=0, le=10, decimal_places=4)
    gis_unit_id: str | None = Field(default=None, description="NEPOOL GIS unit id (e.g. NON12345)")
    rec_terms_accepted: bool = False
    install_date: date | None = None
    interconnection_date: date | None = None
    reporting_method: ReportingMethod = ReportingMethod.AUTOMATIC
    das_provider_id: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'America/New_York')") from exc
        return value

    @model_validator(mode="after")
    def _automatic_needs_provider(self) -> System:
        if self.reporting_method is ReportingMethod.AUTOMATIC and not self.das_provider_id:
            raise ValueError("an automatically reported system needs das_provider_id")
        return self

    @property
    def effective_rec_owner_id(self) -> str:
        return self.rec_owner_id or self.owner_id


class Meter(BaseModel):
    """A revenue meter installed on a system."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    meter_id: MeterId
    system_id: str = Field(min_length=1, max_length=64)
    serial: str = Field(min_length=1)
    model: str = Field(min_length=1, description="manufacturer model, as on the approved list")
    accuracy_class: AccuracyClass
    ct_ratio: Decimal = Field(
        default=Decimal(1),
        gt=0,
        max_digits=12,
        decimal_places=4,
        description="CT multiplier: primary energy = the register as read × this (manual "
        "reports are read off the register; automatic sources report primary energy)",
    )
    register_digits: int | None = Field(
        default=None,
        ge=4,
        le=12,
        description="whole-kWh digits of a dial/LCD register (manual meters): it wraps at "
        "10^digits kWh",
    )
    register_modulus_wh: int | None = Field(
        default=None,
        gt=0,
        description="the stored (primary) register wraps to 0 at this many Wh; without it, "
        "10^register_digits kWh × ct_ratio",
    )
    installed_on: date
    removed_on: date | None = None
    signed: bool = Field(
        default=False,
        description="its gateway signs its batches: the stream refuses unsigned, wrongly "
        "signed and revoked-key batches of it (docs/provenance.md)",
    )

    @model_validator(mode="after")
    def _modulus_from_digits(self) -> Meter:
        derived = self.digits_modulus_wh
        if self.register_modulus_wh is None and derived is not None:
            object.__setattr__(self, "register_modulus_wh", derived)
        return self

    @property
    def digits_modulus_wh(self) -> int | None:
        """Where a register of `register_digits` whole kWh wraps, in primary Wh."""
        if self.register_digits is None:
            return None
        return int(10**self.register_digits * 1000 * self.ct_ratio)

    def primary_wh(self, register_wh: int) -> int:
        """The primary energy of a register value read off this meter (× its CT ratio)."""
        return int(register_wh * self.ct_ratio)

    @model_validator(mode="after")
    def _removed_after_installed(self) -> Meter:
        if self.removed_on is not None and self.removed_on < self.installed_on:
            raise ValueError(
                f"meter {self.meter_id} removed_on {self.removed_on} is before installed_on "
                f"{self.installed_on}"
            )
        return self


class DasProvider(BaseModel):
    """A Data Acquisition System provider reporting production automatically."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider_id: ProviderId
    name: str = Field(min_length=1)
    approved: bool = False
    mqtt_username: str | None = None
