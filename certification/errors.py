"""Refusals of the PTS rules.

CertificationError
├── Refused          a rule said no; `code` is machine-readable, the message says why and
│                    what to do instead
└── MonthLockedError a closed month can only change through an amendment
"""

from __future__ import annotations


class CertificationError(Exception):
    """Base of certification errors."""


class Refused(CertificationError):
    """A rule refused an action."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class MonthLockedError(Refused):
    """The month is closed; change it with an amendment."""
