"""What a registry load may not do, pure: a load is an admin's act, and it cannot make anyone
an admin or hand a system's certificates to someone else.

- Only an admin loads a registry document (`admin_only`).
- An account listed with role admin must already be an admin (`admin_by_load`): admins are
  made on the server (`pts accounts create-admin`) or by an admin in the portal, where it is
  recorded.
- An existing system's REC Owner (its `rec_owner_id`, or the owner when none is named) stays
  what it is (`rec_owner_by_load`): a REC Owner change needs a change request with the signed
  transfer contract, approved by an admin. A new system names its REC Owner freely.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from certification.errors import Refused
from certification.roles import Account, Role, require_admin
from schemas.registry import System


def require_load_allowed(
    loader: Account,
    accounts: Iterable[tuple[str, str]],
    known_roles: Mapping[str, str],
    systems: Iterable[System],
    known_systems: Mapping[str, System],
) -> None:
    """Refuse the whole load (see the module docstring). `accounts` are (account_id, role) as
    the document lists them, `known_roles` the stored roles of those accounts; `systems` the
    document's, `known_systems` the stored ones among them."""
    require_admin(loader, "load a registry document")
    promoted = sorted(
        account_id
        for account_id, role in accounts
        if role == Role.ADMIN.value and known_roles.get(account_id) != Role.ADMIN.value
    )
    if promoted:
        raise Refused(
            "admin_by_load",
            f"the document makes {', '.join(promoted)} an admin; a load cannot create admins: "
            "use `pts accounts create-admin` on the server or the portal's Admin page",
        )
    handed = sorted(
        f"{s.system_id} ({known.effective_rec_owner_id} → {s.effective_rec_owner_id})"
        for s in systems
        if (known := known_systems.get(s.system_id)) is not None
        and known.effective_rec_owner_id != s.effective_rec_owner_id
    )
    if handed:
        raise Refused(
            "rec_owner_by_load",
            f"the document changes the REC Owner of {', '.join(handed)}; a REC Owner changes "
            "only through a change request with the transfer contract "
            "(`pts registry request-rec-owner`, approved by an admin)",
        )
