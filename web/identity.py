"""Who is calling: one resolver per credential kind, each answering only *who is this*
(an account, or nothing). What the account may do is asked of the certification rules.

- `SessionCookie`: the `pts_session` cookie (HttpOnly, SameSite=Lax, Secure when configured);
  the portal, and the API from a browser (whose writes need the CSRF header).
- `ApiToken`: `Authorization: Bearer pts_…`, a personal API token; the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg

from certification.roles import Account
from web import accounts

SESSION_COOKIE = "pts_session"


@dataclass(frozen=True, slots=True)
class Identity:
    account: Account
    via: Literal["session", "token"]
    csrf_token: str = ""  # sessions only: what every form and cookie-borne write must carry
    session_sha256: str = ""


class SessionCookie:
    """A live server-side session named by the cookie."""

    def identify(
        self, conn: psycopg.Connection[Any], cookie: str | None, now: datetime
    ) -> Identity | None:
        if not cookie or len(cookie) > 200:
            return None
        found = accounts.session_account(conn, cookie, now)
        if found is None:
            return None
        account, session = found
        return Identity(account, "session", session.csrf_token, session.session_sha256)


class ApiToken:
    """A live personal API token sent as `Authorization: Bearer <token>`."""

    def identify(
        self, conn: psycopg.Connection[Any], authorization: str | None, now: datetime
    ) -> Identity | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        account = accounts.token_account(conn, token.strip(), now)
        return None if account is None else Identity(account, "token")
