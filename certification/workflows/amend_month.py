"""Amend a closed month: load the close and earlier amendments, decide with
certification.amendments, save the amendment and its ledger adjustment (append-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
import structlog

from certification import amendments as amend_rules
from certification.roles import Account
from certification.srec import mint
from certification.workflows._common import amendments_of
from storage import certification_store as store
from storage import registry_store

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
) -> int:
    """Restate a closed month's energy; append-only, with a ledger adjustment."""
    with conn.transaction():
        closed = store.month_close(conn, system_id, month)
        earlier = [a for a in amendments_of(conn, system_id) if a.month == month]
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
        system = registry_store.get_system(conn, system_id)
        assert system is not None
        carry = store.last_carry(conn, system_id)
        adjusted = mint(month, proposed.delta_mwh, system.srec_factor, carry)
        store.add_ledger(
            conn,
            system_id,
            month,
            f"amendment:{amendment_id}",
            proposed.delta_mwh,
            system.srec_factor,
            carry,
            adjusted.minted,
            adjusted.carry_out,
        )
    log.info(
        "month_amended",
        system_id=system_id,
        month=month,
        before_wh=proposed.before_wh,
        after_wh=after_wh,
    )
    return amendment_id
