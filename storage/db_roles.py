"""Login roles in the group roles of migrations 003 and 015 (docs/database-roles.md).

A service or an analyst connects as a login (LOGIN, scram-sha-256 password) that is a member
of exactly one group role; the groups hold the grants, per database. Roles belong to the server,
so one login serves every database of the cluster. Passwords come from files or the
environment, never from a command line.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import psycopg
from psycopg import sql

from storage.errors import StorageError

# the group role of each kind of login (pts_analyst from 003, the others from 015)
GROUPS: dict[str, str] = {
    "stream": "pts_stream",
    "intake": "pts_intake",
    "web": "pts_web",
    "certify": "pts_certify",
    "analyst": "pts_analyst",
}
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class LoginRoleError(StorageError):
    """A login could not be created; the message says why and what to do."""


def new_password() -> str:
    """A random password for a new login (shown once by the command)."""
    return secrets.token_urlsafe(18)


def create_login(conn: psycopg.Connection[Any], name: str, password: str, group: str) -> bool:
    """Create the login role `name` in `group` with `password` (scram-sha-256), or reset the
    password of an existing login of that group; True when created. Any other existing role
    (the owner, a member of another group, a superuser) is refused."""
    if not _NAME.match(name):
        raise LoginRoleError(
            f"{name!r} is not a usable role name: lower-case letters, digits and _, at most 63"
        )
    if not password:
        raise LoginRoleError("the password is empty; give a file holding it")
    row = conn.execute(
        "SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb, "
        "pg_has_role(r.oid, %s, 'MEMBER') FROM pg_roles r WHERE r.rolname = %s",
        (group, name),
    ).fetchone()
    kind = group.removeprefix("pts_")
    if row is not None and (row[0] or not row[1]):
        raise LoginRoleError(f"role {name} exists and is not an {kind} login; choose another name")
    ident, secret = sql.Identifier(name), sql.Literal(password)
    with conn.transaction():
        conn.execute("SET LOCAL password_encryption = 'scram-sha-256'")
        if row is None:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                    ident, secret, sql.Identifier(group)
                )
            )
        else:
            conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(ident, secret))
    return row is None
