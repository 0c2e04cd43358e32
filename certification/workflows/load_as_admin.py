"""`pts registry load`: an admin loads a registry document. Load the stored roles of the
accounts and the stored systems it names, decide with certification.load_guard (refused as a
whole), then load it with certification.workflows.load_registry."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from certification.load_guard import require_load_allowed
from certification.roles import Account
from certification.workflows.load_registry import load_registry
from schemas.registry import System
from storage import certification_store as store
from storage import registry_store


def load_as_admin(
    conn: psycopg.Connection[Any],
    loader: Account,
    data: dict[str, Any],
    manual_max_kw_dc: Decimal,
    now: datetime | None = None,
) -> dict[str, int]:
    """Load `data` as `loader` (an admin) unless it would create an admin or change a
    system's REC Owner; the counts of what was loaded."""
    listed = [
        (str(a.get("account_id", "")), str(a.get("role", ""))) for a in data.get("accounts", [])
    ]
    known_roles = {
        account_id: row.role
        for account_id, _ in listed
        if (row := store.get_account(conn, account_id)) is not None
    }
    systems = []
    for raw in data.get("systems", []):
        try:
            systems.append(System.model_validate(raw))
        except ValueError:
            continue  # load_registry refuses it with the reason
    known_systems = {
        s.system_id: found
        for s in systems
        if (found := registry_store.get_system(conn, s.system_id)) is not None
    }
    require_load_allowed(loader, listed, known_roles, systems, known_systems)
    return load_registry(conn, data, manual_max_kw_dc, now)
