"""Change requests (e.g. a REC Owner change): one open request per system; an admin approves;
a REC Owner change needs the signed transfer contract. Statuses: open → approved, withdrawn
(by the requester) or cancelled (by an admin)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from certification.errors import Refused
from certification.roles import Account, Role, require_admin, roles_on
from schemas.registry import System


class Status(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class RecOwnerChange:
    request_id: str
    system_id: str
    requested_by: str
    new_rec_owner_id: str
    transfer_contract: str | None
    created_at: datetime
    status: Status = Status.OPEN
    decided_by: str | None = None
    decided_at: datetime | None = None


def open_request(
    account: Account,
    system: System,
    request_id: str,
    new_rec_owner_id: str,
    transfer_contract: str | None,
    existing: list[RecOwnerChange],
    now: datetime,
) -> RecOwnerChange:
    if not roles_on(account, system) & {Role.OWNER, Role.REC_OWNER}:
        raise Refused(
            "not_owner_or_rec_owner",
            f"only the System Owner or the REC Owner of {system.system_id} may request a REC "
            f"Owner change (account {account.account_id} is not)",
        )
    if new_rec_owner_id == system.effective_rec_owner_id:
        raise Refused(
            "same_rec_owner", f"{new_rec_owner_id} is already the REC Owner of {system.system_id}"
        )
    if any(r.system_id == system.system_id and r.status is Status.OPEN for r in existing):
        raise Refused(
            "request_already_open",
            f"system {system.system_id} already has an open change request; withdraw it first",
        )
    if not transfer_contract:
        raise Refused(
            "transfer_contract_missing",
            "a REC Owner change needs the signed transfer contract (a document reference)",
        )
    return RecOwnerChange(
        request_id, system.system_id, account.account_id, new_rec_owner_id, transfer_contract, now
    )


def decide(
    account: Account, request: RecOwnerChange, status: Status, now: datetime
) -> RecOwnerChange:
    if request.status is not Status.OPEN:
        raise Refused("request_closed", f"request {request.request_id} is {request.status.value}")
    if status is Status.WITHDRAWN:
        if account.account_id != request.requested_by:
            raise Refused("not_the_requester", "only the requester may withdraw a request")
    elif status in (Status.APPROVED, Status.CANCELLED):
        require_admin(account, f"{status.value.removesuffix('d').removesuffix('e')} a request")
    else:
        raise Refused("bad_status", f"a request cannot be moved to {status.value}")
    return replace(request, status=status, decided_by=account.account_id, decided_at=now)


def apply(system: System, request: RecOwnerChange) -> System:
    """The system with the REC Owner an approved request names."""
    if request.status is not Status.APPROVED:
        raise Refused("not_approved", f"request {request.request_id} is {request.status.value}")
    return system.model_copy(update={"rec_owner_id": request.new_rec_owner_id})
