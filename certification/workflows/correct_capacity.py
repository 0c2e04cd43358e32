"""Correct a system's recorded capacity from a day on (migration 021): the registry had the
wrong capacity (panels replaced before PTS was told, a typo at registration). Unlike a
registry load, whose capacity change takes effect from its day and never inside a closed
month, a correction states what the capacity really was since `since`, closed months
included: it is an admin's act with a reason, recorded with who made it. It re-decides no
closed month by itself; it is the bound of what staff do next (`pts month accept`, an
amendment, a late-readings recount of a close that stored no power limit)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import structlog

from certification.errors import Refused
from certification.roles import Account, require_admin
from storage import registry_store

log = structlog.get_logger(__name__)


def correct_capacity(
    conn: psycopg.Connection[Any],
    admin: Account,
    system_id: str,
    capacity_kw_dc: Decimal,
    since: date,
    reason: str,
    now: datetime,
) -> None:
    """Record that `system_id` had `capacity_kw_dc` kW DC from `since` on, or a refusal."""
    require_admin(admin, "correct a system's capacity")
    if not reason.strip():
        raise Refused(
            "reason_required",
            "a capacity correction needs a reason (what shows the capacity, e.g. the "
            "installer's as-built record)",
        )
    if not (capacity_kw_dc.is_finite() and capacity_kw_dc > 0):
        raise Refused("bad_capacity", f"{capacity_kw_dc} kW DC is not a capacity above 0")
    if since > now.date():
        raise Refused(
            "capacity_in_future",
            f"--since {since} is after today; a coming change is recorded by the registry "
            "load made when it happens",
        )
    with conn.transaction():
        if registry_store.get_system(conn, system_id) is None:
            raise Refused("unknown_system", f"no system {system_id!r} is registered")
        registry_store.correct_capacity(
            conn, system_id, since, capacity_kw_dc, admin.account_id, reason.strip()
        )
    log.info(
        "capacity_corrected",
        system_id=system_id,
        capacity_kw_dc=str(capacity_kw_dc),
        since=since.isoformat(),
        by=admin.account_id,
    )
