"""Held months, pure: a system-month whose findings question the energy itself mints nothing
and goes into no export until staff release it.

Findings split in two. Those that question the measured energy (default: over_capacity,
implausible_power, backwards_register, register_mismatch, night_production, audit_mismatch;
the setting PTS_MONTH_CLOSE_HOLDING_FINDINGS) hold the month: PTS never mints from energy
it flagged itself. The others (gap, flat_line, zero_month,
missing_month, ...) are advisory: listed for the owner's contact, no effect on money.

A held month is released once, by one of:
- an amendment (certification.amendments): the amended energy is certified;
- an explicit "accept as reported" by an admin with a reason: the energy as closed (its
  metered part) is certified; never above what the system can produce in the month (the
  over_capacity bound at the capacity in force in the month: correct a wrong capacity with
  `pts registry capacity`, or amend).
Either way the ledger then mints for the month and it enters the next NEPOOL GIS export.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from certification.errors import Refused
from certification.roles import Account, require_admin
from schemas.findings import HOLDING_FINDINGS

__all__ = ["HOLDING_FINDINGS"]


class ReleaseKind(StrEnum):
    ACCEPTED_AS_REPORTED = "accepted_as_reported"
    AMENDED = "amended"


@dataclass(frozen=True, slots=True)
class Release:
    """The staff decision that releases a held month (id 0 until stored)."""

    system_id: str
    month: str
    kind: ReleaseKind
    energy_wh: int  # the energy the release certifies
    reason: str
    released_by: str
    released_at: datetime
    amendment_id: int | None = None


def holding_codes(
    codes: Iterable[str], holding: frozenset[str] = HOLDING_FINDINGS
) -> tuple[str, ...]:
    """The finding codes among `codes` that hold a month, sorted, each once: those in
    `holding` and always the defaults (no setting makes implausible energy advisory)."""
    return tuple(sorted(set(codes) & (holding | HOLDING_FINDINGS)))


def accept_as_reported(
    account: Account,
    system_id: str,
    month: str,
    held_by: tuple[str, ...],
    certified_wh: int,
    released: bool,
    reason: str,
    now: datetime,
    most_wh: Decimal | None = None,
) -> Release:
    """Release a held month with its energy as closed, or a refusal that says why. `most_wh`:
    the most the system can produce in the month (month close's over_capacity bound, at the
    capacity in force in the month): above it, accepting would mint energy close calls
    impossible."""
    require_admin(account, "accept a held month as reported")
    if not reason.strip():
        raise Refused(
            "reason_required",
            "accepting a held month as reported needs a reason (what was checked, and why the "
            "energy stands)",
        )
    if not held_by:
        raise Refused("month_not_held", f"{month} of {system_id} is not held; nothing to accept")
    if released:
        raise Refused(
            "month_released",
            f"{month} of {system_id} was already released; change it with an amendment",
        )
    if most_wh is not None and certified_wh > most_wh:
        raise Refused(
            "accept_implausible",
            f"{month} of {system_id}: {certified_wh} Wh is more than the system can produce in "
            f"the month ({most_wh:.0f} Wh: capacity × hours × the over-capacity factor), and "
            "accepting it would mint it; if the capacity recorded for the month is wrong, "
            "correct it (`pts registry capacity SYSTEM KW --since DAY --reason ...`), or amend "
            "the month with the energy the meter supports",
        )
    return Release(
        system_id,
        month,
        ReleaseKind.ACCEPTED_AS_REPORTED,
        certified_wh,
        reason.strip(),
        account.account_id,
        now,
    )
