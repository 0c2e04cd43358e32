"""A system's capacity over time, pure (certification.capacity_history): the capacity in force
at an instant, the pieces of a month cut at a change, the prorated energy bound."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from certification.capacity_history import CapacityHistory
from certification.month_close import Thresholds, most_plausible_wh

NY = ZoneInfo("America/New_York")
D = Decimal
HISTORY = CapacityHistory.of(
    [(date(2026, 11, 10), D(20)), (date(1900, 1, 1), D(10))], "America/New_York"
)


def test_the_capacity_in_force_changes_at_local_midnight_of_its_day() -> None:
    """10 kW until Nov 9 23:59:59 local, 20 kW from Nov 10 00:00 local (05:00 UTC)."""
    assert HISTORY.at(datetime(2026, 11, 9, 23, 59, 59, tzinfo=NY)) == D(10)
    assert HISTORY.at(datetime(2026, 11, 10, tzinfo=NY)) == D(20)
    assert HISTORY.at(datetime(1800, 1, 1, tzinfo=NY)) == D(10)  # before the first: the first


def test_a_month_with_a_change_is_bounded_hour_by_hour() -> None:
    """November 2026 in New York has 721 hours (DST ends Nov 1): 217 at 10 kW (Nov 1–9, the
    25-hour Nov 1 included) and 504 at 20 kW: (10 × 217 + 20 × 504) × 1000 × 0.30 =
    3,675,000 Wh; the power limit is at the larger, 20 kW."""
    start, end = datetime(2026, 11, 1, tzinfo=NY), datetime(2026, 12, 1, tzinfo=NY)
    most, text = HISTORY.bound(start, end, D("0.30"))
    assert (most, text) == (D("3675000.00"), "(10 kW × 217 h + 20 kW × 504 h)")
    assert most_plausible_wh(HISTORY, "2026-11", "America/New_York", Thresholds()) == most
    assert HISTORY.peak_kw(start, end) == D(20)
    assert HISTORY.month_peak_kw("2026-10") == D(10)


def test_a_constant_history_bounds_like_a_plain_capacity() -> None:
    """One capacity for all time gives month close's bound unchanged (10 kW × 744 h × 0.30)."""
    constant = CapacityHistory.constant(D(10), "America/New_York")
    assert (
        most_plausible_wh(constant, "2026-07", "America/New_York")
        == most_plausible_wh(D(10), "2026-07", "America/New_York")
        == D("2232000.00")
    )


def test_two_changes_inside_a_dst_month_count_true_hours() -> None:
    """Changes on Oct 25 (10 → 20 kW) and Nov 5 (20 → 5 kW) around the end of DST (Nov 1,
    a 25-hour day): the 20 kW piece is 11 days + 1 hour = 265 h, not 264 by the wall clock."""
    history = CapacityHistory.of(
        [(date(1900, 1, 1), D(10)), (date(2026, 10, 25), D(20)), (date(2026, 11, 5), D(5))],
        "America/New_York",
    )
    start, end = datetime(2026, 10, 1, tzinfo=NY), datetime(2026, 12, 1, tzinfo=NY)
    hours = [(b - a).total_seconds() / 3600 for a, b, _ in history.pieces(start, end)]
    assert hours == [576, 265, 624]
