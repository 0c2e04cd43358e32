"""`pts demo --serve`: after the demo month, the portal on the demo's database, with accounts
to click through it (an admin and the owner of the first system), passwords made for this run
and printed once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from certification.roles import Role
from pts.settings import Settings
from web import credential_store, passwords

DEMO_ADMIN = "demo-admin"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    account_id: str
    role: Role
    password: str
    note: str


def demo_accounts(url: str) -> list[DemoAccount]:
    """Give the demo an admin and the first system's owner, each with a fresh password."""
    made = []
    with psycopg.connect(url, autocommit=True) as conn:
        first = conn.execute(
            "SELECT system_id, owner_id FROM systems ORDER BY system_id LIMIT 1"
        ).fetchone()
        wanted = [(DEMO_ADMIN, Role.ADMIN, "month closes, flagged systems, change requests")]
        if first is not None:
            wanted.append((str(first[1]), Role.OWNER, f"owner of {first[0]}"))
        now = datetime.now(UTC)
        for account_id, role, note in wanted:
            row = credential_store.AccountRow(account_id, role.value, "", "")
            credential_store.insert_account(conn, row)
            password = secrets.token_urlsafe(12)
            credential_store.set_password(conn, account_id, passwords.hash_password(password), now)
            made.append(DemoAccount(account_id, role, password, note))
    return made


def serve_demo(settings: Settings, url: str, port: int) -> None:
    """Print the URL and the accounts, then serve until interrupted."""
    import uvicorn

    from web.app import create_app

    accounts = demo_accounts(url)
    print(f"\nThe demo's portal: http://127.0.0.1:{port}/  (Ctrl-C stops it)")
    for account in accounts:
        print(f"  {account.account_id:<12} password {account.password}   ({account.note})")
    app = create_app(settings.model_copy(update={"database_url": url}))
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")
