"""Change requests, pure: a change of REC Owner, of System Representative or of DAS provider.

One open request per system, whatever its kind; an admin approves (or cancels), the requester
may withdraw. Statuses: open → approved, withdrawn or cancelled.

- rec_owner: asked by the System Owner or the REC Owner, with the signed transfer contract;
  approval sets `rec_owner_id`.
- representative: asked by the System Owner, naming a registered account (not staff, not a
  DAS provider); approval sets `representative_id`.
- das_provider: asked by the System Owner of an automatic system, naming an approved DAS
  provider; approval sets `das_provider_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from certification.errors import Refused
from certification.roles import Account, Role, require_admin, roles_on
from schemas.registry import DasProvider, ReportingMethod, System


class Status(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


class Kind(StrEnum):
    REC_OWNER = "rec_owner"
    REPRESENTATIVE = "representative"
    DAS_PROVIDER = "das_provider"


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    request_id: str
    system_id: str
    requested_by: str
    new_party_id: str  # the new REC Owner, representative or DAS provider
    document: str | None  # the transfer contract (REC Owner), else an optional reference
    created_at: datetime
    status: Status = Status.OPEN
    decided_by: str | None = None
    decided_at: datetime | None = None
    kind: Kind = Kind.REC_OWNER

    @property
    def new_rec_owner_id(self) -> str:
        """The new party (named for the REC Owner change, the first kind)."""
        return self.new_party_id

    @property
    def transfer_contract(self) -> str | None:
        return self.document


RecOwnerChange = ChangeRequest  # the name the REC Owner workflow has used


def _require_none_open(system: System, existing: Sequence[ChangeRequest]) -> None:
    found = next(
        (r for r in existing if r.system_id == system.system_id and r.status is Status.OPEN),
        None,
    )
    if found is not None:
        raise Refused(
            "request_already_open",
            f"system {system.system_id} already has an open change request ({found.request_id}, "
            f"{found.kind.value}); withdraw it or ask an admin to decide it first",
        )


def _require_owner(account: Account, system: System, what: str) -> None:
    if Role.OWNER not in roles_on(account, system):
        raise Refused(
            "not_system_owner",
            f"only the System Owner of {system.system_id} may request a change of {what} "
            f"(account {account.account_id} is not)",
        )


def open_request(
    account: Account,
    system: System,
    request_id: str,
    new_rec_owner_id: str,
    transfer_contract: str | None,
    existing: Sequence[ChangeRequest],
    now: datetime,
) -> ChangeRequest:
    """A REC Owner change request."""
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
    _require_none_open(system, existing)
    if not transfer_contract:
        raise Refused(
            "transfer_contract_missing",
            "a REC Owner change needs the signed transfer contract (a document reference)",
        )
    return ChangeRequest(
        request_id, system.system_id, account.account_id, new_rec_owner_id, transfer_contract, now
    )


def open_representative_change(
    account: Account,
    system: System,
    request_id: str,
    new_representative: Account | None,
    new_representative_id: str,
    document: str | None,
    existing: Sequence[ChangeRequest],
    now: datetime,
) -> ChangeRequest:
    """A change of System Representative; `new_representative` is the registered account of
    `new_representative_id` (None: there is none)."""
    _require_owner(account, system, "System Representative")
    if new_representative is None:
        raise Refused(
            "unknown_account",
            f"no account {new_representative_id!r}; the new representative must be registered",
        )
    if new_representative.role in (Role.ADMIN, Role.DAS_PROVIDER):
        raise Refused(
            "not_a_representative",
            f"account {new_representative_id} is {new_representative.role.value}; a System "
            "Representative is a person's account (a DAS provider is changed as das_provider)",
        )
    if new_representative_id == system.representative_id:
        raise Refused(
            "same_representative",
            f"{new_representative_id} is already the System Representative of {system.system_id}",
        )
    _require_none_open(system, existing)
    return ChangeRequest(
        request_id,
        system.system_id,
        account.account_id,
        new_representative_id,
        document,
        now,
        kind=Kind.REPRESENTATIVE,
    )


def open_provider_change(
    account: Account,
    system: System,
    request_id: str,
    provider: DasProvider | None,
    provider_id: str,
    document: str | None,
    existing: Sequence[ChangeRequest],
    now: datetime,
) -> ChangeRequest:
    """A change of DAS provider of an automatic system; `provider` is the registered provider
    `provider_id` (None: there is none)."""
    _require_owner(account, system, "DAS provider")
    if system.reporting_method is ReportingMethod.MANUAL:
        raise Refused(
            "reports_manually",
            f"system {system.system_id} reports manually; a DAS provider reports automatic "
            "systems only (change the reporting method through the registry)",
        )
    if provider is None:
        raise Refused(
            "unknown_provider",
            f"no DAS provider {provider_id!r} is registered; register it before the change",
        )
    if not provider.approved:
        raise Refused(
            "provider_not_approved",
            f"DAS provider {provider_id} is not approved; an admin must approve it first",
        )
    if provider_id == system.das_provider_id:
        raise Refused(
            "same_das_provider", f"{provider_id} already reports system {system.system_id}"
        )
    _require_none_open(system, existing)
    return ChangeRequest(
        request_id,
        system.system_id,
        account.account_id,
        provider_id,
        document,
        now,
        kind=Kind.DAS_PROVIDER,
    )


_VERB = {Status.APPROVED: "approve", Status.CANCELLED: "cancel"}


def decide(
    account: Account, request: ChangeRequest, status: Status, now: datetime
) -> ChangeRequest:
    if request.status is not Status.OPEN:
        raise Refused("request_closed", f"request {request.request_id} is {request.status.value}")
    if status is Status.WITHDRAWN:
        if account.account_id != request.requested_by:
            raise Refused("not_the_requester", "only the requester may withdraw a request")
    elif status in (Status.APPROVED, Status.CANCELLED):
        require_admin(account, f"{_VERB[status]} a request")
    else:
        raise Refused("bad_status", f"a request cannot be moved to {status.value}")
    return replace(request, status=status, decided_by=account.account_id, decided_at=now)


_APPLIES_TO = {
    Kind.REC_OWNER: "rec_owner_id",
    Kind.REPRESENTATIVE: "representative_id",
    Kind.DAS_PROVIDER: "das_provider_id",
}


def apply(system: System, request: ChangeRequest) -> System:
    """The system with the REC Owner, representative or DAS provider an approved request
    names."""
    if request.status is not Status.APPROVED:
        raise Refused("not_approved", f"request {request.request_id} is {request.status.value}")
    return system.model_copy(update={_APPLIES_TO[request.kind]: request.new_party_id})
