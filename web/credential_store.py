"""SQL of migration 010: credentials, sessions, API tokens, one-time links, account events
and the write log. Rules live in `web.accounts` and certification/; this module only stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True, slots=True)
class AccountRow:
    account_id: str
    role: str
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Credential:
    account_id: str
    password_hash: str
    password_changed_at: datetime
    disabled: bool


@dataclass(frozen=True, slots=True)
class SessionRow:
    session_sha256: str
    account_id: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    password_changed_at: datetime | None
    disabled: bool


@dataclass(frozen=True, slots=True)
class TokenRow:
    token_id: int
    account_id: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class LinkRow:
    account_id: str
    purpose: str
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventRow:
    subject: str
    tag: str
    address: str
    detail: dict[str, Any]
    at: datetime


# -- accounts and credentials ----------------------------------------------------------------


def get_account(conn: psycopg.Connection[Any], account_id: str) -> AccountRow | None:
    row = conn.execute(
        "SELECT account_id, role, name, email FROM accounts WHERE account_id = %s", (account_id,)
    ).fetchone()
    return None if row is None else AccountRow(*row)


def list_accounts(conn: psycopg.Connection[Any]) -> list[AccountRow]:
    rows = conn.execute("SELECT account_id, role, name, email FROM accounts ORDER BY account_id")
    return [AccountRow(*r) for r in rows.fetchall()]


def insert_account(conn: psycopg.Connection[Any], row: AccountRow) -> bool:
    """Insert a new account; False when the id is taken."""
    cur = conn.execute(
        "INSERT INTO accounts (account_id, role, name, email) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (account_id) DO NOTHING",
        (row.account_id, row.role, row.name, row.email),
    )
    return cur.rowcount == 1


def get_credential(conn: psycopg.Connection[Any], account_id: str) -> Credential | None:
    row = conn.execute(
        "SELECT account_id, password_hash, password_changed_at, disabled FROM "
        "account_credentials WHERE account_id = %s",
        (account_id,),
    ).fetchone()
    return None if row is None else Credential(*row)


def set_password(
    conn: psycopg.Connection[Any], account_id: str, password_hash: str, at: datetime
) -> None:
    conn.execute(
        "INSERT INTO account_credentials (account_id, password_hash, password_changed_at) "
        "VALUES (%s, %s, %s) ON CONFLICT (account_id) DO UPDATE SET password_hash = "
        "EXCLUDED.password_hash, password_changed_at = EXCLUDED.password_changed_at",
        (account_id, password_hash, at),
    )


def rehash_password(conn: psycopg.Connection[Any], account_id: str, password_hash: str) -> None:
    """Store a stronger hash of the same password (sessions stay valid)."""
    conn.execute(
        "UPDATE account_credentials SET password_hash = %s WHERE account_id = %s",
        (password_hash, account_id),
    )


def set_disabled(conn: psycopg.Connection[Any], account_id: str, disabled: bool) -> bool:
    """False when the account has no credential (it never signed in)."""
    cur = conn.execute(
        "UPDATE account_credentials SET disabled = %s WHERE account_id = %s",
        (disabled, account_id),
    )
    return cur.rowcount == 1


# -- sessions --------------------------------------------------------------------------------


def insert_session(
    conn: psycopg.Connection[Any],
    session_sha256: str,
    account_id: str,
    csrf_token: str,
    created_at: datetime,
    expires_at: datetime,
    address: str,
) -> None:
    conn.execute(
        "INSERT INTO web_sessions (session_sha256, account_id, csrf_token, created_at, "
        "expires_at, address) VALUES (%s, %s, %s, %s, %s, %s)",
        (session_sha256, account_id, csrf_token, created_at, expires_at, address),
    )


def get_session(conn: psycopg.Connection[Any], session_sha256: str) -> SessionRow | None:
    row = conn.execute(
        "SELECT s.session_sha256, s.account_id, s.csrf_token, s.created_at, s.expires_at, "
        "s.revoked_at, c.password_changed_at, coalesce(c.disabled, false) FROM web_sessions s "
        "LEFT JOIN account_credentials c USING (account_id) WHERE s.session_sha256 = %s",
        (session_sha256,),
    ).fetchone()
    return None if row is None else SessionRow(*row)


def revoke_session(conn: psycopg.Connection[Any], session_sha256: str, at: datetime) -> None:
    conn.execute(
        "UPDATE web_sessions SET revoked_at = %s WHERE session_sha256 = %s AND revoked_at IS NULL",
        (at, session_sha256),
    )


def revoke_sessions_of(conn: psycopg.Connection[Any], account_id: str, at: datetime) -> int:
    cur = conn.execute(
        "UPDATE web_sessions SET revoked_at = %s WHERE account_id = %s AND revoked_at IS NULL",
        (at, account_id),
    )
    return cur.rowcount


def active_sessions(conn: psycopg.Connection[Any], account_id: str, now: datetime) -> int:
    row = conn.execute(
        "SELECT count(*) FROM web_sessions WHERE account_id = %s AND revoked_at IS NULL "
        "AND expires_at > %s",
        (account_id, now),
    ).fetchone()
    return int(row[0]) if row else 0


# -- API tokens ------------------------------------------------------------------------------


def insert_token(
    conn: psycopg.Connection[Any], token_sha256: str, account_id: str, label: str, at: datetime
) -> int:
    row = conn.execute(
        "INSERT INTO api_tokens (token_sha256, account_id, label, created_at) "
        "VALUES (%s, %s, %s, %s) RETURNING token_id",
        (token_sha256, account_id, label, at),
    ).fetchone()
    assert row is not None
    return int(row[0])


def token_account(
    conn: psycopg.Connection[Any], token_sha256: str, now: datetime
) -> tuple[int, str] | None:
    """(token_id, account_id) of a live token, marking it used; None if unknown or revoked."""
    row = conn.execute(
        "UPDATE api_tokens t SET last_used_at = %s FROM accounts a "
        "WHERE t.token_sha256 = %s AND t.revoked_at IS NULL AND a.account_id = t.account_id "
        "AND NOT EXISTS (SELECT 1 FROM account_credentials c WHERE c.account_id = t.account_id "
        "AND c.disabled) RETURNING t.token_id, t.account_id",
        (now, token_sha256),
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def tokens_of(conn: psycopg.Connection[Any], account_id: str) -> list[TokenRow]:
    rows = conn.execute(
        "SELECT token_id, account_id, label, created_at, last_used_at, revoked_at "
        "FROM api_tokens WHERE account_id = %s ORDER BY token_id",
        (account_id,),
    )
    return [TokenRow(*r) for r in rows.fetchall()]


def revoke_token(
    conn: psycopg.Connection[Any], account_id: str, token_id: int, at: datetime
) -> bool:
    cur = conn.execute(
        "UPDATE api_tokens SET revoked_at = %s WHERE token_id = %s AND account_id = %s "
        "AND revoked_at IS NULL",
        (at, token_id, account_id),
    )
    return cur.rowcount == 1


# -- one-time links --------------------------------------------------------------------------


def insert_link(
    conn: psycopg.Connection[Any],
    link_sha256: str,
    account_id: str,
    purpose: str,
    created_by: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    conn.execute(
        "INSERT INTO account_links (link_sha256, account_id, purpose, created_by, created_at, "
        "expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
        (link_sha256, account_id, purpose, created_by, created_at, expires_at),
    )


def get_link(conn: psycopg.Connection[Any], link_sha256: str) -> LinkRow | None:
    row = conn.execute(
        "SELECT account_id, purpose, expires_at, used_at FROM account_links "
        "WHERE link_sha256 = %s FOR UPDATE",
        (link_sha256,),
    ).fetchone()
    return None if row is None else LinkRow(*row)


def use_link(conn: psycopg.Connection[Any], link_sha256: str, at: datetime) -> None:
    conn.execute("UPDATE account_links SET used_at = %s WHERE link_sha256 = %s", (at, link_sha256))


# -- events and the write log ----------------------------------------------------------------


def add_event(
    conn: psycopg.Connection[Any],
    subject: str,
    tag: str,
    address: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO account_events (subject, tag, address, detail, at) "
        "VALUES (%s, %s, %s, %s, %s)",
        (subject, tag, address, Jsonb(detail or {}), at),
    )


def count_events(
    conn: psycopg.Connection[Any],
    tag: str,
    since: datetime,
    subject: str | None = None,
    address: str | None = None,
) -> int:
    if subject is not None:
        sql = "SELECT count(*) FROM account_events WHERE subject = %s AND tag = %s AND at >= %s"
        params: tuple[Any, ...] = (subject, tag, since)
    else:
        sql = "SELECT count(*) FROM account_events WHERE address = %s AND tag = %s AND at >= %s"
        params = (address, tag, since)
    row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def last_event_at(conn: psycopg.Connection[Any], subject: str, tag: str) -> datetime | None:
    row = conn.execute(
        "SELECT max(at) FROM account_events WHERE subject = %s AND tag = %s", (subject, tag)
    ).fetchone()
    return None if row is None else row[0]


def events_of(conn: psycopg.Connection[Any], subject: str, limit: int = 50) -> list[EventRow]:
    rows = conn.execute(
        "SELECT subject, tag, address, detail, at FROM account_events WHERE subject = %s "
        "ORDER BY event_id DESC LIMIT %s",
        (subject, limit),
    )
    return [EventRow(*r) for r in rows.fetchall()]


def add_write(
    conn: psycopg.Connection[Any],
    account_id: str,
    at: datetime,
    action: str,
    target: str,
    address: str,
    outcome: str,
    message: str = "",
) -> None:
    conn.execute(
        "INSERT INTO write_log (account_id, at, action, target, address, outcome, message) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (account_id, at, action, target, address, outcome, message),
    )


def writes(conn: psycopg.Connection[Any], limit: int = 200) -> list[tuple[Any, ...]]:
    """(account_id, at, action, target, address, outcome), newest first."""
    return conn.execute(
        "SELECT account_id, at, action, target, address, outcome FROM write_log "
        "ORDER BY write_id DESC LIMIT %s",
        (limit,),
    ).fetchall()
