"""Login roles for analysts: members of `pts_analyst` (003_views.sql), which may read the
analyst views and nothing else. `pts db analyst-user NAME` creates one or resets its password.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import psycopg
from psycopg import sql

from storage.errors import StorageError

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class AnalystRoleError(StorageError):
    """An analyst login could not be created; the message says why and what to do."""


def new_password() -> str:
    """A random password for a new login (shown once by the command)."""
    return secrets.token_urlsafe(18)


def create_analyst_login(conn: psycopg.Connection[Any], name: str, password: str) -> bool:
    """Create the login role `name` in pts_analyst with `password`, or reset the password of
    an existing analyst login; True when created. Any other existing role is refused."""
    if not _NAME.match(name):
        raise AnalystRoleError(
            f"{name!r} is not a usable role name: lower-case letters, digits and _, at most 63"
        )
    row = conn.execute(
        "SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb, "
        "pg_has_role(r.oid, 'pts_analyst', 'MEMBER') FROM pg_roles r WHERE r.rolname = %s",
        (name,),
    ).fetchone()
    if row is not None and (row[0] or not row[1]):
        raise AnalystRoleError(
            f"role {name} exists and is not an analyst login; choose another name"
        )
    ident, secret = sql.Identifier(name), sql.Literal(password)
    with conn.transaction():
        if row is None:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pts_analyst").format(
                    ident, secret
                )
            )
        else:
            conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(ident, secret))
    return row is None
