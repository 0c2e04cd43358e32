"""What a registry load may not do (certification.load_guard), pure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from certification.errors import Refused
from certification.load_guard import require_load_allowed
from certification.roles import Account, Role
from schemas.registry import ReportingMethod, System

ADMIN = Account("staff-1", Role.ADMIN)


def system(rec_owner_id: str | None, owner_id: str = "owner-1") -> System:
    return System(
        system_id="S1",
        owner_id=owner_id,
        rec_owner_id=rec_owner_id,
        capacity_kw_dc=Decimal("8"),
        reporting_method=ReportingMethod.MANUAL,
    )


def test_only_an_admin_loads() -> None:
    with pytest.raises(Refused) as refused:
        require_load_allowed(Account("owner-1", Role.OWNER), [], {}, [], {})
    assert refused.value.code == "admin_only"


def test_an_admin_listed_must_already_be_one() -> None:
    """Promoting owner-1 or creating new-admin is refused, naming both; staff-1, already an
    admin, may be listed as one."""
    listed = [("staff-1", "admin"), ("owner-1", "admin"), ("new-admin", "admin")]
    with pytest.raises(Refused) as refused:
        require_load_allowed(ADMIN, listed, {"staff-1": "admin", "owner-1": "system_owner"}, [], {})
    assert refused.value.code == "admin_by_load"
    assert refused.value.message.startswith("the document makes new-admin, owner-1 an admin")
    require_load_allowed(ADMIN, [("staff-1", "admin")], {"staff-1": "admin"}, [], {})


def test_a_systems_rec_owner_stays_unless_the_system_is_new() -> None:
    """An existing system's effective REC Owner may not change (also not by changing the
    owner of a system without a REC Owner); a new system names its own."""
    with pytest.raises(Refused) as refused:
        require_load_allowed(ADMIN, [], {}, [system("buyer-10")], {"S1": system("buyer-9")})
    assert refused.value.code == "rec_owner_by_load"
    assert "S1 (buyer-9 → buyer-10)" in refused.value.message
    with pytest.raises(Refused):
        require_load_allowed(
            ADMIN, [], {}, [system(None, owner_id="owner-2")], {"S1": system(None)}
        )
    require_load_allowed(ADMIN, [], {}, [system("buyer-9")], {"S1": system("buyer-9")})
    require_load_allowed(ADMIN, [], {}, [system("buyer-10")], {})
