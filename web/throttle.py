"""Sign-in throttling: too many recent failures for one account, or from one address, refuse
further attempts until the window has passed (checked before the password is)."""

from __future__ import annotations

from dataclasses import dataclass

from certification.errors import Refused


@dataclass(frozen=True, slots=True)
class Limits:
    per_account: int = 5
    per_address: int = 20
    window_s: int = 900


def check(limits: Limits, account_failures: int, address_failures: int) -> None:
    """Refuse with `too_many_attempts` when either count has reached its limit."""
    minutes = max(1, limits.window_s // 60)
    if account_failures >= limits.per_account:
        raise Refused(
            "too_many_attempts",
            f"too many failed sign-ins for this account; wait {minutes} minutes and try again, "
            "or ask an admin for a password reset link",
        )
    if address_failures >= limits.per_address:
        raise Refused(
            "too_many_attempts",
            f"too many failed sign-ins from your address; wait {minutes} minutes and try again",
        )
