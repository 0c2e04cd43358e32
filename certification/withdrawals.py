"""Withdrawing a manual reading entered by mistake (pure): who may, which reading, until when.

Readings are append-only: a withdrawal is its own record (storage.withdrawals, migration 020)
and may put the right value in the reading's place at the same instant (a correction). Only
the System Representative of the system, for a reading they entered, or PTS staff withdraw;
only a manual reading (a gateway's or DAS provider's readings are the meter's own); only while
the reporting window of the reading's month is open and neither that month nor the reading's
calendar month is closed. After that a month changes only through a staff amendment
(certification.amendments).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from certification.errors import Refused
from certification.manual_reports import filed_month
from certification.roles import Account, Role, is_admin
from certification.window import month_reported_at, window_for
from schemas.registry import System

MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class StoredReading:
    """The reading in force at an instant, as the rules read it."""

    meter_id: str
    ts: datetime
    energy_wh: int
    source: str  # manual, gateway, das
    entered_by: str  # source_id: for a manual reading, the account that entered it
    event: str | None  # opening/closing of a meter replacement


def require_withdrawer(account: Account, system: System) -> None:
    """The System Representative of the system, or staff."""
    if is_admin(account):
        return
    if account.role is Role.DAS_PROVIDER or account.account_id != system.representative_id:
        who = system.representative_id or "none yet"
        raise Refused(
            "not_the_representative",
            f"only the System Representative of {system.system_id} ({who}) or PTS staff may "
            f"withdraw its readings (account {account.account_id} is {account.role.value})",
        )


def decide(
    account: Account,
    system: System,
    reading: StoredReading,
    reason: str,
    now: datetime,
    closed_months: set[str],
) -> str:
    """The reporting month of a reading that may be withdrawn now, or a refusal that says
    why and what to do instead."""
    require_withdrawer(account, system)
    if reading.source != "manual":
        raise Refused(
            "not_a_manual_reading",
            f"the reading of meter {reading.meter_id} at {reading.ts.isoformat()} came from "
            f"the {reading.source} feed, not from a manual report; only manual readings can be "
            "withdrawn (PTS staff correct automatic data with an amendment)",
        )
    if not is_admin(account) and reading.entered_by != account.account_id:
        raise Refused(
            "not_your_reading",
            f"that reading was entered by {reading.entered_by}; a representative withdraws "
            "only readings they entered (ask PTS staff)",
        )
    if reading.event is not None:
        raise Refused(
            "meter_replacement_reading",
            "the readings of a meter replacement are corrected by PTS staff, with an amendment",
        )
    tz = system.timezone
    month = filed_month(reading.ts, tz)
    calendar = reading.ts.astimezone(ZoneInfo(tz)).strftime("%Y-%m")
    for shut in sorted({month, calendar} & closed_months):
        raise Refused(
            "month_closed",
            f"{shut} of {system.system_id} is closed; only a PTS staff amendment changes it now",
        )
    if month_reported_at(now, tz) != month:
        _, closes = window_for(month, tz)
        raise Refused(
            "window_closed_for_reading",
            f"the reporting window of {month} closed at {closes.isoformat()}; a reading of "
            "that month can no longer be withdrawn, only a PTS staff amendment changes it now",
        )
    if not reason.strip():
        raise Refused("reason_required", "say why the reading is withdrawn")
    if len(reason) > MAX_REASON:
        raise Refused("reason_too_long", f"give the reason in at most {MAX_REASON} characters")
    return month


def provenance_text(
    withdrawn_wh: int,
    replacement_wh: int | None,
    ts: datetime,
    reason: str,
    withdrawn_by: str,
    withdrawn_at: datetime,
) -> str:
    """How a month's provenance report states a withdrawal (a finding, not a failure: the
    readings counted are those in force)."""
    instead = (
        f"{replacement_wh} Wh counted in its place"
        if replacement_wh is not None
        else "no reading in its place"
    )
    return (
        f"the manual reading at {ts.isoformat()} of {withdrawn_wh} Wh was withdrawn by "
        f"{withdrawn_by} at {withdrawn_at.isoformat()} ({reason}); {instead}"
    )
