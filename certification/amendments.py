"""Amendments, pure: the only way a closed month changes. Append-only: each one records who,
when, why, the evidence, and the month's energy before and after; the latest one states the
month. Its ledger entry brings the month's credit to the amended energy (all of it after an
estimate or a hold, which minted nothing; no credit without REC terms accepted), and the next
NEPOOL GIS export sends what the month now states beyond what earlier exports sent (its own
line if the month never went out, else an adjustment line); see
certification.workflows.amend_month and export_quarter. A negative adjustment is carried as a
negative fraction, offsetting later certificates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from certification.errors import Refused
from certification.roles import Account, require_admin
from certification.srec import mwh_of


@dataclass(frozen=True, slots=True)
class Amendment:
    amendment_id: int
    system_id: str
    month: str
    before_wh: int
    after_wh: int
    reason: str
    evidence: str
    amended_by: str
    amended_at: datetime
    exported_in: str | None = None

    @property
    def delta_mwh(self) -> Decimal:
        """The change in exported MWh (each side rounded to the kWh, as exported)."""
        return mwh_of(self.after_wh) - mwh_of(self.before_wh)


def stated_wh(closed_wh: int, amendments: Sequence[Amendment]) -> int:
    """A month's energy as last stated: the latest amendment's, else the close's."""
    latest = max(amendments, key=lambda a: a.amendment_id, default=None)
    return closed_wh if latest is None else latest.after_wh


def propose(
    account: Account,
    system_id: str,
    month: str,
    closed_wh: int | None,
    earlier: Sequence[Amendment],
    after_wh: int,
    reason: str,
    evidence: str,
    now: datetime,
    most_wh: Decimal | None = None,
    held_after_close: bool = False,
    creditable_uncredited: bool = False,
) -> Amendment:
    """A new amendment (id 0 until stored), or a refusal that says why. `most_wh`: the most
    the system can produce in the month (month close's over_capacity bound); an amendment
    above it would mint from energy month close itself calls impossible, so it is refused.
    `held_after_close`: the month is held by a finding made after its close; an amendment
    stating the same energy confirms it (and releases the hold). `creditable_uncredited`: the
    ledger never credited the month (closed before the REC terms were accepted), it may be
    credited now, and its close is metered and not held; an amendment stating the same
    energy is how staff certify it (the GIS export sends only what the ledger credited)."""
    require_admin(account, "amend production")
    if not reason.strip() or not evidence.strip():
        raise Refused("amendment_incomplete", "an amendment needs a reason and evidence")
    if closed_wh is None:
        raise Refused(
            "month_not_closed",
            f"{month} of {system_id} is not closed; fix open months with readings instead",
        )
    if after_wh < 0:
        raise Refused("negative_energy", f"a month cannot produce {after_wh} Wh")
    if most_wh is not None and after_wh > most_wh:
        raise Refused(
            "amendment_implausible",
            f"{after_wh} Wh is more than {system_id} can produce in {month} "
            f"({most_wh:.0f} Wh: capacity × hours × the over-capacity factor); check the "
            "value and its unit (Wh)",
        )
    before = stated_wh(closed_wh, earlier)
    if after_wh == before and not (held_after_close or creditable_uncredited):
        raise Refused("nothing_to_amend", f"{month} of {system_id} already states {before} Wh")
    return Amendment(
        0, system_id, month, before, after_wh, reason, evidence, account.account_id, now
    )
