"""Passwords hashed with Argon2id (argon2-cffi's defaults: RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from certification.errors import Refused

MIN_LENGTH = 10
MAX_LENGTH = 1024  # bound the work one request can ask of the hasher

_HASHER = PasswordHasher()
# verifying against this when the account has no password costs as much as a real check, so
# the answer time does not tell which account ids exist
_DUMMY_HASH = _HASHER.hash("pts-no-such-account-password")


def check_acceptable(password: str) -> None:
    """Refuse a password too short or too long, saying what is needed."""
    if len(password) < MIN_LENGTH:
        raise Refused(
            "password_too_short", f"choose a password of at least {MIN_LENGTH} characters"
        )
    if len(password) > MAX_LENGTH:
        raise Refused("password_too_long", f"a password has at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing hash still costs one verification."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)
