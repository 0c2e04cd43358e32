"""The web layer's pure parts: throttling, error mapping, secrets, passwords, the window as
shown, the chart."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from certification.errors import Refused
from schemas.registry import System
from web import errors, passwords
from web.chart import monthly_svg
from web.credentials import digest, new_api_token, new_secret
from web.throttle import Limits, check
from web.views import MonthProduction, last_months, window_state


def test_throttle_refuses_at_the_account_limit() -> None:
    check(Limits(5, 20, 900), 4, 19)
    with pytest.raises(Refused) as caught:
        check(Limits(5, 20, 900), 5, 0)
    assert caught.value.code == "too_many_attempts"
    assert "for this account; wait 15 minutes" in caught.value.message


def test_throttle_refuses_at_the_address_limit() -> None:
    with pytest.raises(Refused) as caught:
        check(Limits(5, 20, 900), 0, 20)
    assert "from your address" in caught.value.message


def test_not_your_system_is_answered_as_not_found() -> None:
    """A system the caller holds no role on is a 404 with the same body as a missing one."""
    refusal = Refused("not_your_system", "account x has no role on system S2")
    assert errors.status_for(refusal.code) == 404
    assert errors.body(refusal) == errors.body(errors.not_found("system"))
    assert errors.status_for("register_went_backwards") == 422
    assert errors.status_for("admin_only") == 403
    assert errors.status_for("too_many_attempts") == 429


def test_secrets_and_digests() -> None:
    token = new_api_token()
    assert token.startswith("pts_")
    assert len(new_secret()) == 43
    assert digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_passwords() -> None:
    hashed = passwords.hash_password("a long enough password")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify(hashed, "a long enough password")
    assert not passwords.verify(hashed, "another password")
    assert not passwords.verify(None, "a long enough password")
    with pytest.raises(Refused, match="at least 10 characters"):
        passwords.check_acceptable("short")


def test_window_state_in_local_time() -> None:
    system = System(
        system_id="S1", owner_id="o", capacity_kw_dc=Decimal(8), reporting_method="manual"
    )
    open_state = window_state(system, datetime(2026, 11, 5, 23, tzinfo=UTC))  # 18:00 in NY
    assert (
        open_state.month,
        open_state.opens.isoformat(),
        open_state.last_day.date().isoformat(),
    ) == ("2026-10", "2026-10-27T00:00:00-04:00", "2026-11-05")
    closed = window_state(system, datetime(2026, 11, 6, 5, 1, tzinfo=UTC))  # 00:01 on the 6th
    assert not closed.is_open
    assert closed.opens.isoformat() == "2026-11-26T00:00:00-05:00"


def test_last_months() -> None:
    assert last_months(datetime(2026, 1, 1, 3, tzinfo=UTC), "America/New_York", 3) == [
        "2025-10",
        "2025-11",
        "2025-12",
    ]


def test_chart_draws_one_bar_per_known_month() -> None:
    svg = str(
        monthly_svg(
            [
                MonthProduction("2026-08", 500_000, "closed"),
                MonthProduction("2026-09", None, ""),
                MonthProduction("2026-10", 1_000_000, "measured"),
            ]
        )
    )
    assert svg.count("<rect") == 2
    assert "<title>2026-10: 1,000.0 kWh (measured)</title>" in svg
    assert 'height="150.0"' in svg  # the largest month fills the plot
