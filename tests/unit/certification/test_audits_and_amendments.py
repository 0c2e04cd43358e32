"""Audit readings compared with the reports, and append-only amendments."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from certification.amendments import Amendment, propose, stated_wh
from certification.audits import StoredAudit, Verdict, compare, mismatch_findings, record
from certification.errors import Refused
from certification.roles import Account, Role
from stream.energy import RegisterPoint

ADMIN = Account("staff-1", Role.ADMIN)
REP = Account("rep-1", Role.REPRESENTATIVE)
T0 = datetime(2026, 7, 1, 4, tzinfo=UTC)
T1 = datetime(2026, 8, 1, 4, tzinfo=UTC)
T2 = datetime(2026, 9, 1, 4, tzinfo=UTC)
REPORTED = [
    RegisterPoint(T1, 2_000_000),
    RegisterPoint(T0, 1_000_000),
    RegisterPoint(T2, 2_600_000),
]
MID_AUGUST = datetime(2026, 8, 16, 16, tzinfo=UTC)  # 15.5 of 31 days after T1: half way


def test_audit_needs_an_admin_and_evidence() -> None:
    """A representative may not audit; an audit without evidence is refused."""
    with pytest.raises(Refused) as caught:
        record(REP, "M1", MID_AUGUST, 2_300_000, "photo-1")
    assert caught.value.code == "admin_only"
    with pytest.raises(Refused) as caught:
        record(ADMIN, "M1", MID_AUGUST, 2_300_000, "")
    assert caught.value.code == "evidence_missing"


def test_audit_within_tolerance_is_consistent() -> None:
    """Half way through August the reports say 2,300,000 Wh; 2,312,000 is 0.92% of the
    1,300,000 Wh reported so far: within ±1%."""
    result = compare(record(ADMIN, "M1", MID_AUGUST, 2_312_000, "photo-1"), REPORTED, Decimal(1))
    assert (result.reported_wh, result.deviation_wh, result.produced_wh) == (
        2_300_000,
        12_000,
        1_300_000,
    )
    assert (result.deviation_pct, result.verdict) == (Decimal("0.92"), Verdict.CONSISTENT)


def test_audit_outside_tolerance_is_a_mismatch() -> None:
    """2,280,000 Wh against 2,300,000 reported is 1.54% of 1,300,000: above ±1%."""
    result = compare(record(ADMIN, "M1", MID_AUGUST, 2_280_000, "photo-1"), REPORTED, Decimal(1))
    assert (result.deviation_wh, result.deviation_pct) == (-20_000, Decimal("1.54"))
    assert result.verdict is Verdict.MISMATCH


def test_audit_after_the_last_report() -> None:
    """After the last report: below it is a mismatch, at or above it waits for the next one."""
    late = datetime(2026, 9, 10, tzinfo=UTC)
    low = compare(record(ADMIN, "M1", late, 2_599_999, "p"), REPORTED, Decimal(1))
    high = compare(record(ADMIN, "M1", late, 2_700_000, "p"), REPORTED, Decimal(1))
    assert (low.verdict, high.verdict) == (Verdict.MISMATCH, Verdict.PENDING)
    assert high.reported_wh is None


def test_audit_before_any_report_is_refused() -> None:
    """Nothing to compare with before the first report."""
    with pytest.raises(Refused) as caught:
        compare(record(ADMIN, "M1", datetime(2026, 6, 1, tzinfo=UTC), 1, "p"), REPORTED, Decimal(1))
    assert caught.value.code == "nothing_reported_before"


NOW = datetime(2026, 10, 9, 15, tzinfo=UTC)


def amendment(aid: int, before: int, after: int) -> Amendment:
    return Amendment(aid, "S1", "2026-07", before, after, "why", "doc", "staff-1", NOW)


def test_amendment_refusals() -> None:
    """Admin only; reason and evidence required; the month must be closed; a real change."""
    cases = [
        (REP, 1_000_000, 1_100_000, "r", "e", "admin_only"),
        (ADMIN, 1_000_000, 1_100_000, " ", "e", "amendment_incomplete"),
        (ADMIN, 1_000_000, 1_100_000, "r", "", "amendment_incomplete"),
        (ADMIN, None, 1_100_000, "r", "e", "month_not_closed"),
        (ADMIN, 1_000_000, -1, "r", "e", "negative_energy"),
        (ADMIN, 1_000_000, 1_000_000, "r", "e", "nothing_to_amend"),
    ]
    for who, closed, after, reason, evidence, code in cases:
        with pytest.raises(Refused) as caught:
            propose(who, "S1", "2026-07", closed, [], after, reason, evidence, NOW)
        assert caught.value.code == code


def test_amendments_chain_before_and_after() -> None:
    """A second amendment starts from the first one's `after`; the latest states the month."""
    first = amendment(1, 1_000_000, 1_300_000)
    second = propose(ADMIN, "S1", "2026-07", 1_000_000, [first], 1_250_400, "r", "e", NOW)
    assert (second.before_wh, second.after_wh, second.amended_by) == (
        1_300_000,
        1_250_400,
        "staff-1",
    )
    assert second.delta_mwh == Decimal("-0.050")
    assert stated_wh(1_000_000, []) == 1_000_000
    assert stated_wh(1_000_000, [amendment(2, 1_300_000, 1_250_400), first]) == 1_250_400


def test_only_mismatches_inside_the_month_become_findings() -> None:
    """Consistent and pending audits say nothing; a mismatch outside [start, end) neither."""
    start, end = datetime(2026, 7, 1, 4, tzinfo=UTC), datetime(2026, 8, 1, 4, tzinfo=UTC)

    def at(day: int) -> datetime:
        return datetime(2026, 7, day, tzinfo=UTC)

    stored = [
        StoredAudit(at(20), 900, None, None, Verdict.MISMATCH),
        StoredAudit(at(2), 1_000, 1_010, Decimal("5.00"), Verdict.MISMATCH),
        StoredAudit(at(3), 1_000, 1_001, Decimal("0.50"), Verdict.CONSISTENT),
        StoredAudit(at(4), 1_000, None, None, Verdict.PENDING),
        StoredAudit(datetime(2026, 8, 1, 4, tzinfo=UTC), 1, 9, Decimal("80.00"), Verdict.MISMATCH),
    ]  # fmt: skip
    assert mismatch_findings(stored, start, end) == [
        "site audit at 2026-07-02T00:00:00+00:00 read 1000 Wh against 1010 Wh reported (5.00% "
        "of the production, beyond the meter's accuracy class); amend the affected months",
        "site audit at 2026-07-20T00:00:00+00:00 read 900 Wh, below the last reported register; "
        "amend the affected months",
    ]
