"""Accept a held month as reported: load the close and any release, decide with
certification.holds, save the release (append-only, who/when/why) and mint the month's
certified energy in the ledger; the month then enters the next NEPOOL GIS export."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import structlog

from certification.errors import Refused
from certification.holds import Release, accept_as_reported
from certification.month_close import Thresholds, most_plausible_wh
from certification.roles import Account
from certification.srec import mint, mwh_of
from certification.workflows._common import capacities_of
from schemas.registry import System
from storage import certification_store as store
from storage import registry_store
from storage.ledger_lock import lock_ledger

log = structlog.get_logger(__name__)


def accept_month(
    conn: psycopg.Connection[Any],
    admin: Account,
    system_id: str,
    month: str,
    reason: str,
    now: datetime,
    thresholds: Thresholds | None = None,
) -> Release:
    """Release a held system-month with its energy as closed, and mint it; refused above
    what the system can produce in the month (month close's over_capacity bound)."""
    with conn.transaction():
        lock_ledger(conn)  # one ledger writer at a time (two admins at once)
        system = registry_store.get_system(conn, system_id)
        closed = store.month_close(conn, system_id, month)
        if system is None or closed is None:
            raise Refused(
                "month_not_closed",
                f"{month} of {system_id} is not closed; only a closed, held month can be accepted",
            )
        if any(
            h.month == month and not h.released for h in store.holds_after_close(conn, system_id)
        ):
            raise Refused(
                "held_after_close",
                f"{month} of {system_id} is held by a finding made after its close; amend it "
                "(an amendment stating the same energy confirms it)",
            )
        released = store.release_of(conn, system_id, month) is not None
        most = most_plausible_wh(  # at the capacity in force in the month (021)
            capacities_of(conn, [system])[system_id],
            month,
            system.timezone,
            thresholds or Thresholds(),
        )
        release = accept_as_reported(
            admin,
            system_id,
            month,
            closed.held_by,
            closed.certified_wh,
            released,
            reason,
            now,
            most,
        )
        store.add_release(
            conn,
            system_id,
            month,
            release.kind.value,
            None,
            release.energy_wh,
            release.reason,
            release.released_by,
            release.released_at,
        )
        credit_month(conn, system, month, release.energy_wh, "accepted")
    log.info(
        "month_accepted_as_reported",
        system_id=system_id,
        month=month,
        energy_wh=release.energy_wh,
        held_by=list(closed.held_by),
    )
    return release


def credit_month(
    conn: psycopg.Connection[Any], system: System, month: str, energy_wh: int, entry: str
) -> int:
    """Bring the ledger's credit for a system-month to `energy_wh` (in MWh as exported): the
    entry books what the ledger has not credited the month yet (all of it after an estimate
    or a hold, which minted nothing), at the factor of the month's first entry (else the
    system's today). Systems whose REC terms are not accepted, or with no NEPOOL GIS unit,
    get no credit; what they were credited before is still taken back. Returns the
    certificates minted."""
    booked = mwh_of(energy_wh) - store.credited_mwh(conn, system.system_id, month)
    if (not system.rec_terms_accepted or not system.gis_unit_id) and booked >= 0:
        return 0  # no new credit; a take-back of what was credited is booked all the same
    return book_mwh(conn, system, month, booked, entry)


def book_mwh(
    conn: psycopg.Connection[Any], system: System, month: str, booked: Decimal, entry: str
) -> int:
    """Book `booked` MWh (negative: a take-back) for a system-month in the ledger, to the
    month's REC Owner at the month's factor (see credit_month); the certificates minted."""
    # a month keeps the REC Owner and the factor it was first credited at: a take-back
    # returns exactly what was credited, to whom it was credited, whatever the registry
    # says today; each owner's fraction carries on its own
    owner = store.month_owner(conn, system.system_id, month) or system.effective_rec_owner_id
    carry = store.last_carry(conn, system.system_id, owner)
    factor = store.month_factor(conn, system.system_id, month)
    factor = system.srec_factor if factor is None else factor
    minted = mint(month, booked, factor, carry)
    store.add_ledger(
        conn,
        system.system_id,
        month,
        entry,
        booked,
        factor,
        carry,
        minted.minted,
        minted.carry_out,
        owner,
    )
    return minted.minted
