"""The acting account: every action is taken as a registered account."""

from __future__ import annotations

from typing import Any

import psycopg

from certification.errors import Refused
from certification.roles import Account, Role
from storage import certification_store as store


def account(conn: psycopg.Connection[Any], account_id: str) -> Account:
    """The registered account, or a refusal (every action is taken as a known account)."""
    row = store.get_account(conn, account_id)
    if row is None:
        raise Refused("unknown_account", f"no account {account_id!r}; load it with the registry")
    return Account(row.account_id, Role(row.role), row.name, row.email)
