"""The demo's ground-truth check: it passes only on exact totals, and it can fail."""

from __future__ import annotations

from pts.demo_truth import all_match, check_totals


def test_exact_totals_pass() -> None:
    """Every meter with data equal to the truth: the check passes."""
    checks = check_totals({"A": 1000, "B": 2000}, {"A": 1000, "B": 2000})
    assert all_match(checks)


def test_one_wh_off_fails() -> None:
    """One Wh off on one meter fails the check and names the meter."""
    checks = check_totals({"A": 1000, "B": 2000}, {"A": 1001, "B": 2000})
    assert not all_match(checks)
    assert [c.meter_id for c in checks if not c.ok] == ["A"]


def test_meter_without_data_is_reported_not_matched() -> None:
    """A meter that sent nothing is not a mismatch, but no data at all is a failure."""
    assert all_match(check_totals({"A": 1000, "B": 5}, {"A": 1000}))
    assert not all_match(check_totals({"A": 1000}, {}))
