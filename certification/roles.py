"""Accounts, roles and what each may do; every refusal says why.

System Owner: reads its own systems and their production. REC Owner: holds certificate
rights (starts as the owner). System Representative: the only role that enters production;
an approved DAS provider is the representative of the systems it reports. Admin: staff who
approve change requests, audit and amend.
"""

from __future__ import annotations

from dataclasses import dataclass

from certification.errors import Refused
from schemas.registry import DasProvider, System
from schemas.registry_file import Role as Role  # defined with the registry document


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    role: Role
    name: str = ""
    email: str = ""


def is_admin(account: Account) -> bool:
    return account.role is Role.ADMIN


def roles_on(account: Account, system: System) -> frozenset[Role]:
    """The roles `account` holds on `system` (one person may be owner and representative;
    a DAS provider is the representative of the automatic systems it reports)."""
    held = set()
    if account.account_id == system.owner_id:
        held.add(Role.OWNER)
    if account.account_id == system.effective_rec_owner_id:
        held.add(Role.REC_OWNER)
    if account.account_id == system.representative_id:
        held.add(Role.REPRESENTATIVE)
    if account.role is Role.DAS_PROVIDER and account.account_id == system.das_provider_id:
        held |= {Role.DAS_PROVIDER, Role.REPRESENTATIVE}
    if is_admin(account):
        held.add(Role.ADMIN)
    return frozenset(held)


def can_read(account: Account, system: System) -> bool:
    if is_admin(account):
        return True
    return account.account_id in {
        system.owner_id,
        system.effective_rec_owner_id,
        system.representative_id,
        system.das_provider_id,
    }


def require_read(account: Account, system: System) -> None:
    if not can_read(account, system):
        raise Refused(
            "not_your_system",
            f"account {account.account_id} has no role on system {system.system_id}",
        )


def require_submit(account: Account, system: System, provider: DasProvider | None = None) -> None:
    """Only the System Representative (or the system's approved DAS provider) enters production."""
    if account.role is Role.DAS_PROVIDER:
        if system.das_provider_id != account.account_id:
            raise Refused(
                "not_the_representative",
                f"provider {account.account_id} does not report system {system.system_id}",
            )
        if provider is None or not provider.approved:
            raise Refused(
                "provider_not_approved",
                f"DAS provider {account.account_id} is not approved; an admin must approve it",
            )
        return
    if account.account_id != system.representative_id or is_admin(account):
        raise Refused(
            "not_the_representative",
            f"only the System Representative of {system.system_id} may submit production "
            f"(account {account.account_id} is {account.role.value})",
        )


def require_admin(account: Account, action: str) -> None:
    if not is_admin(account):
        raise Refused("admin_only", f"only an admin may {action}")
