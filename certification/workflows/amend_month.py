"""Amend a closed month: load the close and earlier amendments, decide with
certification.amendments, save the amendment and its ledger entry (append-only).

The ledger entry brings the month's credit to the amended energy: it books what the ledger
has not credited the month yet, so after an estimate or a hold (which minted nothing) the
whole amended energy, otherwise the difference. A system whose REC terms are not accepted
gets no credit. An amendment of a held month releases it (certification.holds).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import structlog

from certification import amendments as amend_rules
from certification.errors import Refused
from certification.holds import ReleaseKind
from certification.month_close import Thresholds, most_plausible_wh
from certification.roles import Account
from certification.srec import mwh_of
from certification.workflows._common import amendments_of, capacities_of
from certification.workflows.accept_month import credit_month
from schemas.registry import System
from storage import certification_store as store
from storage import registry_store
from storage.ledger_lock import lock_ledger
from stream.calendar import month_bounds

log = structlog.get_logger(__name__)


def amend(
    conn: psycopg.Connection[Any],
    admin: Account,
    system_id: str,
    month: str,
    after_wh: int,
    reason: str,
    evidence: str,
    now: datetime,
    thresholds: Thresholds | None = None,
) -> int:
    """Restate a closed month's energy; append-only, with a ledger adjustment. Refused above
    what the system can produce in the month (month close's over_capacity bound)."""
    with conn.transaction():
        lock_ledger(conn)  # one ledger writer at a time (two admins at once)
        closed = store.month_close(conn, system_id, month)
        earlier = [a for a in amendments_of(conn, system_id) if a.month == month]
        system = registry_store.get_system(conn, system_id)
        most = None
        if system is not None:
            most = most_plausible_wh(  # at the capacity in force in the month (021)
                capacities_of(conn, [system])[system_id],
                month,
                system.timezone,
                thresholds or Thresholds(),
            )
        proposed = amend_rules.propose(
            admin,
            system_id,
            month,
            None if closed is None else closed.energy_wh,
            earlier,
            after_wh,
            reason,
            evidence,
            now,
            most,
            any(
                not h.released and h.month == month
                for h in store.holds_after_close(conn, system_id)
            ),
            _creditable_uncredited(conn, system, month, closed),
        )
        assert system is not None  # propose refuses a month that was never closed
        trued_up = _trued_up_by(store.closes_of(conn, system_id), month, system.timezone)
        if trued_up is not None:
            raise Refused(
                "trued_up_later",
                f"{month} of {system_id} was estimated and {trued_up}'s close already counted "
                f"its energy when the silent meter reported again; amend {trued_up} instead",
            )
        amendment_id = store.add_amendment(
            conn,
            system_id,
            month,
            proposed.before_wh,
            after_wh,
            reason,
            evidence,
            admin.account_id,
            now,
        )
        assert closed is not None  # propose refuses amending an open month
        if closed.held_by and store.release_of(conn, system_id, month) is None:
            store.add_release(
                conn,
                system_id,
                month,
                ReleaseKind.AMENDED.value,
                amendment_id,
                after_wh,
                reason,
                admin.account_id,
                now,
            )
        credit_month(conn, system, month, after_wh, f"amendment:{amendment_id}")
    log.info(
        "month_amended",
        system_id=system_id,
        month=month,
        before_wh=proposed.before_wh,
        after_wh=after_wh,
    )
    return amendment_id


def _creditable_uncredited(
    conn: psycopg.Connection[Any],
    system: System | None,
    month: str,
    closed: store.CloseSummary | None,
) -> bool:
    """The ledger has no entry for the month (it closed before the REC terms were accepted),
    the system may be credited now (terms accepted, a GIS unit), and the close is wholly
    metered and not held: staff may certify it by stating its energy unchanged. An estimate
    or a held month keeps its own paths (an amendment with other energy, `pts month
    accept`)."""
    if system is None or closed is None:
        return False
    if not system.rec_terms_accepted or not system.gis_unit_id:
        return False
    if closed.estimated or closed.held_by:
        return False
    # never credited, or all its credit taken back (REC terms withdrawn before its export)
    return (
        store.credited_mwh(conn, system.system_id, month) == 0 and mwh_of(closed.certified_wh) != 0
    )


def _trued_up_by(closes: list[store.ClosedMonthRow], month: str, timezone: str) -> str | None:
    """The later month whose close counted energy of `month` for a meter `month` estimated
    (the meter reported again and that close resumed from before `month` ended), if any."""
    this = next((r for r in closes if r.month == month), None)
    if this is None:
        return None
    _, end = month_bounds(month, ZoneInfo(timezone))
    silent = {m["meter_id"] for m in this.meters if m.get("estimated")}
    for row in closes:
        for m in row.meters if row.month > month else ():
            first = m.get("first")
            if m["meter_id"] in silent and first and datetime.fromisoformat(first[0]) < end:
                return row.month
    return None
