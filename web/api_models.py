"""The API's request and response bodies (they make the OpenAPI document at
/api/openapi.json). Energy is integer Wh; times are ISO 8601 with their offset."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Strict = ConfigDict(extra="forbid")


def _printable(value: str) -> str:
    """Refuse control characters (NUL among them) in text PTS stores."""
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError("control characters and lone surrogates are not accepted")
    return value


Text = Annotated[str, AfterValidator(_printable)]
# a local month YYYY-MM, 2000-01 to 2099-12 (bounds before work: no year 0 reaches the rules)
MONTH_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"


class ErrorOut(BaseModel):
    code: str = Field(description="machine-readable refusal code (the rules' codes)")
    message: str = Field(description="what was wrong and what to do")


class AccountOut(BaseModel):
    account_id: str
    role: str
    name: str
    email: str


class TokenIn(BaseModel):
    model_config = Strict
    label: Text = Field(default="", max_length=100)


class TokenOut(BaseModel):
    token_id: int
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(BaseModel):
    token_id: int
    token: str = Field(description="shown once; PTS keeps only its digest")


class InvitationIn(BaseModel):
    model_config = Strict
    account_id: Text = Field(min_length=1, max_length=64)
    role: Text = Field(max_length=40)
    name: Text = Field(default="", max_length=200)
    email: Text = Field(default="", max_length=200)


class InvitationOut(BaseModel):
    account_id: str
    link_path: str = Field(description="one-time link (append to the portal's address)")
    expires_at: datetime


class SystemOut(BaseModel):
    system_id: str
    name: str
    timezone: str
    capacity_kw_dc: Decimal
    program: str
    reporting_method: str
    owner_id: str
    rec_owner_id: str
    representative_id: str | None
    das_provider_id: str | None
    gis_unit_id: str | None
    roles: list[str] = Field(description="the caller's roles on the system")


class MeterOut(BaseModel):
    meter_id: str
    serial: str
    model: str
    accuracy_class: str
    installed_on: str
    removed_on: str | None


class ReadingOut(BaseModel):
    meter_id: str
    ts: datetime
    energy_wh: int = Field(description="cumulative register, Wh")
    source: str
    flags: list[str]
    event: str | None


class ReadingsPage(BaseModel):
    items: list[ReadingOut]
    next_before: datetime | None = Field(
        description="pass as `before` for the next (older) page; null on the last page"
    )


class MonthOut(BaseModel):
    month: str
    energy_wh: int | None
    basis: str = Field(description="closed, amended, estimated, measured, or empty")


class WindowOut(BaseModel):
    timezone: str
    is_open: bool
    month: str | None = Field(description="the month being reported, when open")
    opens: datetime = Field(description="local time; the next window's when closed")
    closes: datetime


class ManualReportIn(BaseModel):
    model_config = Strict
    meter_id: Text = Field(min_length=1, max_length=64)
    register_wh: int = Field(ge=0, le=10**15, description="the register as read, Wh")
    read_at: datetime = Field(description="when it was read, with its UTC offset")
    photo_ref: Text | None = Field(default=None, max_length=500)


class ChangeRequestIn(BaseModel):
    """A change of REC Owner (the default kind; the transfer contract as `transfer_contract`
    or `document`), System Representative or DAS provider (the System Owner's)."""

    model_config = Strict
    kind: Literal["rec_owner", "representative", "das_provider"] = "rec_owner"
    new_party_id: Text | None = Field(
        default=None, min_length=1, max_length=64, description="the new party's account id"
    )
    new_rec_owner_id: Text | None = Field(
        default=None, min_length=1, max_length=64, description="the same, for a REC Owner change"
    )
    document: Text | None = Field(
        default=None, max_length=500, description="reference of a supporting document"
    )
    transfer_contract: Text | None = Field(
        default=None, max_length=500, description="the same, for a REC Owner change"
    )


class DecisionIn(BaseModel):
    model_config = Strict
    status: Text = Field(description="approved, cancelled (admins) or withdrawn (requester)")


class ChangeRequestOut(BaseModel):
    request_id: str
    system_id: str
    kind: str = Field(description="rec_owner, representative or das_provider")
    requested_by: str
    new_party_id: str
    document: str | None
    new_rec_owner_id: str | None = Field(description="new_party_id of a REC Owner change")
    transfer_contract: str | None = Field(description="document of a REC Owner change")
    created_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None


class LedgerOut(BaseModel):
    month: str
    entry: str
    mwh: Decimal
    factor: Decimal
    carry_in: Decimal
    minted: int
    carry_out: Decimal


class CloseIn(BaseModel):
    model_config = Strict
    month: Text = Field(pattern=MONTH_PATTERN)


class ClosedSystemOut(BaseModel):
    system_id: str
    month: str
    energy_wh: int
    estimated: bool
    minted: int = 0
    findings: list[str] = Field(default_factory=list)


class WriteOut(BaseModel):
    account_id: str
    at: datetime
    action: str
    target: str
    address: str
    outcome: str = Field(description="done, or the refusal code")
    message: str = Field(description="the refusal's reason")


class HealthOut(BaseModel):
    status: str


class DayOut(BaseModel):
    day: str = Field(description="local calendar day of the system")
    energy_wh: int


class AmendmentOut(BaseModel):
    amendment_id: int
    month: str
    before_wh: int
    after_wh: int
    reason: str
    evidence: str
    amended_by: str
    amended_at: datetime
    exported_in: str | None


class WithdrawalIn(BaseModel):
    """Withdraw a manual reading entered by mistake (the System Representative who entered
    it, or staff; while its month's window is open); with `corrected_register_wh`, put the
    right register value in its place at the same instant."""

    model_config = Strict
    meter_id: Text = Field(min_length=1, max_length=64)
    ts: datetime = Field(description="the reading's time, with its UTC offset")
    reason: Text = Field(min_length=1, max_length=500, description="why it is withdrawn")
    corrected_register_wh: int | None = Field(
        default=None, ge=0, le=10**15, description="the register as it should have been read, Wh"
    )


class WithdrawalOut(BaseModel):
    withdrawal_id: int
    meter_id: str
    ts: datetime
    withdrawn_wh: int = Field(description="the register value withdrawn, Wh")
    replacement_wh: int | None = Field(description="the value put in its place; null: none")
    month: str = Field(description="the reporting month the reading was filed under")
    reason: str
    withdrawn_by: str
    withdrawn_at: datetime
