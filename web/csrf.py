"""CSRF protection. A signed-in form carries the session's own CSRF token (stored with the
session); a cookie-authenticated API write carries it in the `X-CSRF-Token` header. Forms
shown before sign-in (sign-in, one-time links) use a double-submit cookie `pts_csrf`. Requests
authenticated by an API token need none: a browser never sends a token by itself."""

from __future__ import annotations

from certification.errors import Refused
from web.credentials import same

FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
PRE_SESSION_COOKIE = "pts_csrf"


def require(expected: str, submitted: str | None) -> None:
    """Refuse unless `submitted` equals the expected token."""
    if not expected or not submitted or not same(expected, submitted):
        raise Refused(
            "csrf_failed",
            "this form has expired or did not come from PTS; reload the page and send it again",
        )
