"""Change requests (REC Owner, System Representative, DAS provider): load the system, its
requests and the new party, decide with certification.change_requests, save the request
(and, when approved, the system)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from certification import change_requests as cr
from certification.errors import Refused
from certification.roles import Account, Role
from certification.workflows.accounts import account
from schemas.registry import System
from storage import certification_store as store
from storage import registry_store
from storage.certification_store import ChangeRequestRow


def _request(row: ChangeRequestRow) -> cr.ChangeRequest:
    return cr.ChangeRequest(
        row.request_id,
        row.system_id,
        row.requested_by,
        row.new_party_id,
        row.document,
        row.created_at,
        cr.Status(row.status),
        row.decided_by,
        row.decided_at,
        cr.Kind(row.kind),
    )


def _request_row(request: cr.ChangeRequest) -> ChangeRequestRow:
    return ChangeRequestRow(
        request.request_id,
        request.system_id,
        request.requested_by,
        request.new_party_id,
        request.document,
        request.created_at,
        request.status.value,
        request.decided_by,
        request.decided_at,
        request.kind.value,
    )


def _system(conn: psycopg.Connection[Any], system_id: str) -> System:
    system = registry_store.get_system(conn, system_id)
    if system is None:
        raise Refused("unknown_system", f"no system {system_id!r} is registered")
    return system


def request_change(
    conn: psycopg.Connection[Any],
    account_id: str,
    system_id: str,
    request_id: str,
    kind: cr.Kind,
    new_party_id: str,
    document: str | None,
    now: datetime,
) -> cr.ChangeRequest:
    """Open a change request of any kind (one open request per system)."""
    with conn.transaction():
        who = account(conn, account_id)
        system = _system(conn, system_id)
        existing = [_request(r) for r in store.change_requests(conn, system_id)]
        if kind is cr.Kind.REC_OWNER:
            request = cr.open_request(
                who, system, request_id, new_party_id, document, existing, now
            )
        elif kind is cr.Kind.REPRESENTATIVE:
            found = store.get_account(conn, new_party_id)
            party = None if found is None else Account(found.account_id, Role(found.role))
            request = cr.open_representative_change(
                who, system, request_id, party, new_party_id, document, existing, now
            )
        else:
            provider = registry_store.get_provider(conn, new_party_id)
            request = cr.open_provider_change(
                who, system, request_id, provider, new_party_id, document, existing, now
            )
        store.save_change_request(conn, _request_row(request))
    return request


def request_rec_owner_change(
    conn: psycopg.Connection[Any],
    account_id: str,
    system_id: str,
    request_id: str,
    new_rec_owner_id: str,
    transfer_contract: str | None,
    now: datetime,
) -> cr.ChangeRequest:
    """Open a REC Owner change request (needs the signed transfer contract)."""
    return request_change(
        conn,
        account_id,
        system_id,
        request_id,
        cr.Kind.REC_OWNER,
        new_rec_owner_id,
        transfer_contract,
        now,
    )


def decide_change_request(
    conn: psycopg.Connection[Any],
    account_id: str,
    system_id: str,
    request_id: str,
    status: cr.Status,
    now: datetime,
) -> System:
    """Approve (admin; applies the change to the registry), cancel (admin) or withdraw
    (requester)."""
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
