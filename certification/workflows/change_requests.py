"""REC Owner change requests: load the system and its requests, decide with
certification.change_requests, save the request (and, when approved, the system)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from certification import change_requests as cr
from certification.errors import Refused
from certification.workflows.accounts import account
from schemas.registry import System
from storage import certification_store as store
from storage import registry_store
from storage.certification_store import ChangeRequestRow


def _request(row: ChangeRequestRow) -> cr.RecOwnerChange:
    return cr.RecOwnerChange(
        row.request_id,
        row.system_id,
        row.requested_by,
        row.new_rec_owner_id,
        row.transfer_contract,
        row.created_at,
        cr.Status(row.status),
        row.decided_by,
        row.decided_at,
    )


def request_rec_owner_change(
    conn: psycopg.Connection[Any],
    account_id: str,
    system_id: str,
    request_id: str,
    new_rec_owner_id: str,
    transfer_contract: str | None,
    now: datetime,
) -> cr.RecOwnerChange:
    with conn.transaction():
        who = account(conn, account_id)
        system = registry_store.get_system(conn, system_id)
        if system is None:
            raise Refused("unknown_system", f"no system {system_id!r} is registered")
        existing = [_request(r) for r in store.change_requests(conn, system_id)]
        request = cr.open_request(
            who, system, request_id, new_rec_owner_id, transfer_contract, existing, now
        )
        store.save_change_request(conn, _request_row(request))
    return request


def _request_row(request: cr.RecOwnerChange) -> ChangeRequestRow:
    return ChangeRequestRow(
        request.request_id,
        request.system_id,
        request.requested_by,
        request.new_rec_owner_id,
        request.transfer_contract,
        request.created_at,
        request.status.value,
        request.decided_by,
        request.decided_at,
    )


def decide_change_request(
    conn: psycopg.Connection[Any],
    account_id: str,
    system_id: str,
    request_id: str,
    status: cr.Status,
    now: datetime,
) -> System:
    """Approve (admin; applies the new REC Owner), cancel (admin) or withdraw (requester)."""
    with conn.transaction():
        who = account(conn, account_id)
        system = registry_store.get_system(conn, system_id)
        found = [r for r in store.change_requests(conn, system_id) if r.request_id == request_id]
        if system is None or not found:
            raise Refused("unknown_request", f"no request {request_id!r} for {system_id!r}")
        decided = cr.decide(who, _request(found[0]), status, now)
        store.save_change_request(conn, _request_row(decided))
        if decided.status is cr.Status.APPROVED:
            system = cr.apply(system, decided)
            registry_store.upsert(conn, [system])
    return system
