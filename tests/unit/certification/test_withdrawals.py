"""Who may withdraw a manual reading, which one, until when (certification.withdrawals)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from certification.errors import Refused
from certification.roles import Account, Role
from certification.withdrawals import StoredReading, decide
from schemas.registry import ReportingMethod, System

SYSTEM = System(
    system_id="S1",
    owner_id="owner-1",
    rec_owner_id="buyer-9",
    representative_id="rep-1",
    capacity_kw_dc=Decimal(8),
    reporting_method=ReportingMethod.MANUAL,
)
REP = Account("rep-1", Role.REPRESENTATIVE)
STAFF = Account("staff", Role.ADMIN)
# read 29 October 09:30 New York (October's window: 27 October to the end of 5 November)
READ = datetime(2026, 10, 29, 13, 30, tzinfo=UTC)
IN_WINDOW = datetime(2026, 11, 5, 12, tzinfo=UTC)
WINDOW_SHUT = datetime(2026, 11, 6, 5, tzinfo=UTC)  # 6 November 00:00 EST: closed


def reading(source: str = "manual", by: str = "rep-1", event: str | None = None) -> StoredReading:
    return StoredReading("M1", READ, 12_345_600, source, by, event)


def code_of(account: Account, stored: StoredReading, now: datetime, closed: set[str]) -> str:
    with pytest.raises(Refused) as refused:
        decide(account, SYSTEM, stored, "typo", now, closed)
    return refused.value.code


def test_the_representative_withdraws_their_reading_in_the_window() -> None:
    assert decide(REP, SYSTEM, reading(), "typo", IN_WINDOW, set()) == "2026-10"


def test_staff_withdraw_a_reading_someone_else_entered() -> None:
    assert decide(STAFF, SYSTEM, reading(by="rep-0"), "typo", IN_WINDOW, set()) == "2026-10"


@pytest.mark.parametrize(
    "account",
    [
        Account("owner-1", Role.OWNER),
        Account("buyer-9", Role.REC_OWNER),
        Account("rep-1", Role.DAS_PROVIDER),
        Account("rep-2", Role.REPRESENTATIVE),
    ],
)
def test_nobody_else_withdraws(account: Account) -> None:
    with pytest.raises(Refused) as refused:
        decide(account, SYSTEM, reading(), "typo", IN_WINDOW, set())
    assert refused.value.code == "not_the_representative"
    assert "(rep-1) or PTS staff" in refused.value.message


def test_a_representative_withdraws_only_what_they_entered() -> None:
    assert code_of(REP, reading(by="rep-0"), IN_WINDOW, set()) == "not_your_reading"


@pytest.mark.parametrize("source", ["gateway", "das"])
def test_automatic_readings_are_never_withdrawn(source: str) -> None:
    assert code_of(STAFF, reading(source=source), IN_WINDOW, set()) == "not_a_manual_reading"


def test_a_meter_replacements_readings_are_staff_amendments() -> None:
    assert code_of(REP, reading(event="opening"), IN_WINDOW, set()) == "meter_replacement_reading"


def test_the_window_end_is_the_last_moment_site_time() -> None:
    """5 November 23:59 New York is inside; 6 November 00:00 is not, for staff too."""
    last_minute = datetime(2026, 11, 6, 4, 59, tzinfo=UTC)  # 23:59 EST
    assert decide(REP, SYSTEM, reading(), "typo", last_minute, set()) == "2026-10"
    assert code_of(REP, reading(), WINDOW_SHUT, set()) == "window_closed_for_reading"
    assert code_of(STAFF, reading(), WINDOW_SHUT, set()) == "window_closed_for_reading"


def test_a_closed_month_is_refused_before_its_window() -> None:
    assert code_of(STAFF, reading(), IN_WINDOW, {"2026-10"}) == "month_closed"


def test_a_reason_is_required() -> None:
    with pytest.raises(Refused) as refused:
        decide(REP, SYSTEM, reading(), "  ", IN_WINDOW, set())
    assert refused.value.code == "reason_required"
