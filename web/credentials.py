"""Random secrets handed out once (session cookie, API token, one-time link) and the digest
stored in their place. A leaked database row cannot be replayed as the credential."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "pts_"  # API tokens start with it, so a leaked one is recognisable in a scan


def new_secret() -> str:
    """32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """SHA-256 hex of a secret: what the database keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode(), b.encode())
