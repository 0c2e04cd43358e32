"""Route dependencies: a pooled connection, the caller's identity, CSRF on cookie writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request

from web import csrf
from web.context import context
from web.errors import sign_in_required
from web.identity import SESSION_COOKIE, ApiToken, Identity, SessionCookie
from web.request_log import WRITE_METHODS

_SESSION = SessionCookie()
_TOKEN = ApiToken()


def connection(request: Request) -> Iterator[psycopg.Connection[Any]]:
    with context(request).pool.connection() as conn:
        yield conn


Conn = Annotated[psycopg.Connection[Any], Depends(connection)]


def _remember(request: Request, identity: Identity | None) -> Identity | None:
    request.state.identity = identity
    return identity


def portal_identity(request: Request, conn: Conn) -> Identity | None:
    """The portal knows only the session cookie."""
    found = _SESSION.identify(conn, request.cookies.get(SESSION_COOKIE), context(request).clock())
    return _remember(request, found)


def api_identity(request: Request, conn: Conn) -> Identity | None:
    """The API takes a Bearer token, else the session cookie (whose writes need the CSRF
    header)."""
    now = context(request).clock()
    authorization = request.headers.get("authorization")
    if authorization:
        return _remember(request, _TOKEN.identify(conn, authorization, now))
    found = _SESSION.identify(conn, request.cookies.get(SESSION_COOKIE), now)
    if found is not None and request.method in WRITE_METHODS:
        csrf.require(found.csrf_token, request.headers.get(csrf.HEADER))
    return _remember(request, found)


def signed_in(identity: Annotated[Identity | None, Depends(portal_identity)]) -> Identity:
    if identity is None:
        raise sign_in_required()
    return identity


def api_caller(identity: Annotated[Identity | None, Depends(api_identity)]) -> Identity:
    if identity is None:
        raise sign_in_required()
    return identity


MaybeMe = Annotated[Identity | None, Depends(portal_identity)]
Me = Annotated[Identity, Depends(signed_in)]
Caller = Annotated[Identity, Depends(api_caller)]
