"""Account workflows of the web service: the first admin, accounts created by an admin with a
one-time invitation link, sign-in (throttled, every attempt recorded as an account event with
the address), sessions, sign-out (here or everywhere), password changes and personal API
tokens. Each workflow runs in one transaction; a refusal that must leave a trace (a failed
sign-in) records its event before it is raised.

Secrets are returned once to the caller and stored only as digests; none is ever logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
import structlog

from certification.errors import Refused
from certification.roles import Account, Role, require_admin
from web import credential_store as store
from web import passwords
from web.credentials import digest, new_api_token, new_secret
from web.throttle import Limits, check

log = structlog.get_logger(__name__)

SIGNIN_FAILED = "signin_failed"
SIGNIN_SUCCEEDED = "signin_succeeded"
SIGNIN_THROTTLED = "signin_throttled"


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long sessions and one-time links live, and the throttling limits."""

    session_hours: float = 12
    link_hours: float = 72
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True, slots=True)
class SignedIn:
    account: Account
    session_secret: str  # the cookie value: shown to the browser once, stored as a digest
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Invitation:
    account: Account
    link_secret: str  # goes into the one-time link shown to the admin
    expires_at: datetime


def as_account(row: store.AccountRow) -> Account:
    return Account(row.account_id, Role(row.role), row.name, row.email)


def _valid_id(account_id: str) -> str:
    cleaned = account_id.strip()
    if not cleaned or len(cleaned) > 64 or not all(c.isalnum() or c in "._@-" for c in cleaned):
        raise Refused(
            "bad_account_id",
            "an account id is 1 to 64 letters, digits or . _ @ - (for example 'jsmith')",
        )
    return cleaned


# -- creating accounts -----------------------------------------------------------------------


def create_admin(
    conn: psycopg.Connection[Any],
    account_id: str,
    name: str,
    email: str,
    password: str,
    now: datetime,
) -> Account:
    """The first admin, created on the server (`pts accounts create-admin`)."""
    account_id = _valid_id(account_id)
    passwords.check_acceptable(password)
    with conn.transaction():
        existing = store.get_account(conn, account_id)
        if existing is not None and (
            existing.role != Role.ADMIN.value or store.get_credential(conn, account_id)
        ):
            raise Refused(
                "account_exists",
                f"account {account_id!r} already exists; choose another id, or reset its "
                "password from the admin pages",
            )
        row = store.AccountRow(account_id, Role.ADMIN.value, name, email)
        if existing is None:
            store.insert_account(conn, row)
        store.set_password(conn, account_id, passwords.hash_password(password), now)
        store.add_event(conn, account_id, "admin_created", "server", now)
    log.info("admin_created", account_id=account_id)
    return as_account(row)


def invite(
    conn: psycopg.Connection[Any],
    admin: Account,
    account_id: str,
    role: str,
    name: str,
    email: str,
    now: datetime,
    address: str,
    policy: SessionPolicy,
) -> Invitation:
    """An admin creates an account; the person sets a password through the one-time link."""
    require_admin(admin, "create accounts")
    account_id = _valid_id(account_id)
    try:
        chosen = Role(role)
    except ValueError as exc:
        raise Refused(
            "bad_role", f"role must be one of {', '.join(r.value for r in Role)}"
        ) from exc
    row = store.AccountRow(account_id, chosen.value, name.strip(), email.strip())
    with conn.transaction():
        if not store.insert_account(conn, row):
            raise Refused("account_exists", f"account {account_id!r} already exists")
        secret, expires = _issue_link(conn, admin, account_id, "invitation", now, address, policy)
    log.info("account_invited", account_id=account_id, by=admin.account_id)
    return Invitation(as_account(row), secret, expires)


def reset_link(
    conn: psycopg.Connection[Any],
    admin: Account,
    account_id: str,
    now: datetime,
    address: str,
    policy: SessionPolicy,
) -> Invitation:
    """An admin issues a one-time password-reset link for an account."""
    require_admin(admin, "issue password reset links")
    with conn.transaction():
        row = store.get_account(conn, account_id)
        if row is None:
            raise Refused("unknown_account", f"no account {account_id!r}")
        secret, expires = _issue_link(conn, admin, account_id, "reset", now, address, policy)
    log.info("reset_link_issued", account_id=account_id, by=admin.account_id)
    return Invitation(as_account(row), secret, expires)


def _issue_link(
    conn: psycopg.Connection[Any],
    admin: Account,
    account_id: str,
    purpose: str,
    now: datetime,
    address: str,
    policy: SessionPolicy,
) -> tuple[str, datetime]:
    secret = new_secret()
    expires = now + timedelta(hours=policy.link_hours)
    store.insert_link(conn, digest(secret), account_id, purpose, admin.account_id, now, expires)
    store.add_event(
        conn, account_id, f"{purpose}_link_issued", address, now, {"by": admin.account_id}
    )
    return secret, expires


def set_disabled(
    conn: psycopg.Connection[Any],
    admin: Account,
    account_id: str,
    disabled: bool,
    now: datetime,
    address: str,
) -> None:
    """An admin disables an account (its sessions end, its tokens stop working, it cannot
    sign in) or enables it again."""
    require_admin(admin, "disable or enable accounts")
    if disabled and account_id == admin.account_id:
        raise Refused("cannot_disable_self", "ask another admin to disable your account")
    with conn.transaction():
        if not store.set_disabled(conn, account_id, disabled):
            raise Refused(
                "unknown_account", f"account {account_id!r} has no password yet; nothing to do"
            )
        if disabled:
            store.revoke_sessions_of(conn, account_id, now)
        tag = "account_disabled" if disabled else "account_enabled"
        store.add_event(conn, account_id, tag, address, now, {"by": admin.account_id})
    log.info("account_disabled" if disabled else "account_enabled", account_id=account_id)


def link_account(conn: psycopg.Connection[Any], link_secret: str, now: datetime) -> Account:
    """The account a one-time link is for, or a refusal if it is used, expired or unknown."""
    link = store.get_link(conn, digest(link_secret))
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise Refused(
            "link_invalid",
            "this link is used, expired or unknown; ask an admin for a new one",
        )
    row = store.get_account(conn, link.account_id)
    assert row is not None  # links reference accounts
    return as_account(row)


def set_password_with_link(
    conn: psycopg.Connection[Any], link_secret: str, password: str, now: datetime, address: str
) -> Account:
    """Use a one-time link: set the password, end every session of the account."""
    passwords.check_acceptable(password)
    with conn.transaction():
        account = link_account(conn, link_secret, now)
        store.use_link(conn, digest(link_secret), now)
        store.set_password(conn, account.account_id, passwords.hash_password(password), now)
        store.revoke_sessions_of(conn, account.account_id, now)
        store.add_event(conn, account.account_id, "password_set", address, now)
    log.info("password_set", account_id=account.account_id)
    return account


# -- sign-in and sessions --------------------------------------------------------------------


def sign_in(
    conn: psycopg.Connection[Any],
    account_id: str,
    password: str,
    now: datetime,
    address: str,
    policy: SessionPolicy,
) -> SignedIn:
    """A new session, or a refusal; every attempt is recorded as an account event."""
    subject = account_id.strip()[:64]
    since = now - timedelta(seconds=policy.limits.window_s)
    refusal: Refused | None = None
    signed: SignedIn | None = None
    with conn.transaction():
        try:
            check(
                policy.limits,
                store.count_events(conn, SIGNIN_FAILED, since, subject=subject),
                store.count_events(conn, SIGNIN_FAILED, since, address=address),
            )
        except Refused as throttled:
            store.add_event(conn, subject, SIGNIN_THROTTLED, address, now)
            refusal = throttled
        if refusal is None:
            row = store.get_account(conn, subject)
            credential = store.get_credential(conn, subject) if row else None
            ok = passwords.verify(credential.password_hash if credential else None, password)
            if row is None or credential is None or not ok or credential.disabled:
                store.add_event(conn, subject, SIGNIN_FAILED, address, now)
                refusal = Refused(
                    "bad_credentials",
                    "the account id or the password is wrong (or the account is disabled); "
                    "check both, or ask an admin for a password reset link",
                )
            else:
                if passwords.needs_rehash(credential.password_hash):
                    store.rehash_password(conn, subject, passwords.hash_password(password))
                signed = _new_session(conn, as_account(row), now, address, policy)
                store.add_event(conn, subject, SIGNIN_SUCCEEDED, address, now)
    if refusal is not None:
        log.info("signin_refused", code=refusal.code, address=address)
        raise refusal
    assert signed is not None
    log.info("signed_in", account_id=signed.account.account_id, address=address)
    return signed


def _new_session(
    conn: psycopg.Connection[Any],
    account: Account,
    now: datetime,
    address: str,
    policy: SessionPolicy,
) -> SignedIn:
    secret, csrf = new_secret(), new_secret()
    expires = now + timedelta(hours=policy.session_hours)
    store.insert_session(conn, digest(secret), account.account_id, csrf, now, expires, address)
    return SignedIn(account, secret, csrf, expires)


def session_account(
    conn: psycopg.Connection[Any], session_secret: str, now: datetime
) -> tuple[Account, store.SessionRow] | None:
    """The account of a live session: not revoked, not expired, not older than the account's
    last password change, account not disabled."""
    row = store.get_session(conn, digest(session_secret))
    if row is None or row.revoked_at is not None or row.expires_at <= now or row.disabled:
        return None
    if row.password_changed_at is None or row.created_at < row.password_changed_at:
        return None
    account = store.get_account(conn, row.account_id)
    return None if account is None else (as_account(account), row)


def sign_out(
    conn: psycopg.Connection[Any], session: store.SessionRow, now: datetime, address: str
) -> None:
    with conn.transaction():
        store.revoke_session(conn, session.session_sha256, now)
        store.add_event(conn, session.account_id, "signed_out", address, now)


def sign_out_everywhere(
    conn: psycopg.Connection[Any], account: Account, now: datetime, address: str
) -> int:
    """End every session of the account (API tokens are revoked one by one)."""
    with conn.transaction():
        ended = store.revoke_sessions_of(conn, account.account_id, now)
        store.add_event(
            conn, account.account_id, "signed_out_everywhere", address, now, {"sessions": ended}
        )
    return ended


def change_password(
    conn: psycopg.Connection[Any],
    account: Account,
    current: str,
    new: str,
    now: datetime,
    address: str,
    policy: SessionPolicy,
) -> SignedIn:
    """Change the password: every existing session ends; a new one is returned."""
    passwords.check_acceptable(new)
    with conn.transaction():
        credential = store.get_credential(conn, account.account_id)
        if credential is None or not passwords.verify(credential.password_hash, current):
            raise Refused("bad_credentials", "the current password is wrong")
        store.set_password(conn, account.account_id, passwords.hash_password(new), now)
        store.revoke_sessions_of(conn, account.account_id, now)
        store.add_event(conn, account.account_id, "password_changed", address, now)
        return _new_session(conn, account, now, address, policy)


# -- personal API tokens ---------------------------------------------------------------------


def create_token(
    conn: psycopg.Connection[Any], account: Account, label: str, now: datetime, address: str
) -> tuple[int, str]:
    """(token_id, token): the token is shown once and stored as a digest."""
    label = label.strip()[:100]
    token = new_api_token()
    with conn.transaction():
        token_id = store.insert_token(conn, digest(token), account.account_id, label, now)
        store.add_event(
            conn,
            account.account_id,
            "token_created",
            address,
            now,
            {"token_id": token_id, "label": label},
        )
    log.info("token_created", account_id=account.account_id, token_id=token_id)
    return token_id, token


def revoke_token(
    conn: psycopg.Connection[Any], account: Account, token_id: int, now: datetime, address: str
) -> None:
    with conn.transaction():
        if not store.revoke_token(conn, account.account_id, token_id, now):
            raise Refused("unknown_token", f"you have no live token {token_id}")
        store.add_event(
            conn, account.account_id, "token_revoked", address, now, {"token_id": token_id}
        )


def token_account(conn: psycopg.Connection[Any], token: str, now: datetime) -> Account | None:
    """The account of a live API token (marks it used), or None."""
    if len(token) > 200:
        return None
    with conn.transaction():
        found = store.token_account(conn, digest(token), now)
        if found is None:
            return None
        row = store.get_account(conn, found[1])
    return None if row is None else as_account(row)
