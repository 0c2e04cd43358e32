"""The true-up deduction of close_month: an amended estimate's silent part is not counted twice."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from certification.workflows.close_month import _true_up_deduction
from storage.certification_store import ClosedMonthRow

NY = ZoneInfo("America/New_York")
DEC_START = datetime(2026, 12, 1, tzinfo=NY)


def december(certified_wh: int) -> ClosedMonthRow:
    return ClosedMonthRow("2026-12", 9_000_000, True, [], certified_wh)


def test_the_amended_months_silent_part_is_deducted() -> None:
    """December: 3,000,000 Wh metered, amended to 4,322,000: 1,322,000 Wh deducted."""
    wh, findings = _true_up_deduction(
        [december(3_000_000)], {"B": DEC_START}, {"2026-12": 4_322_000}, "2027-01", NY.key
    )
    assert (wh, [f.code for f in findings]) == (1_322_000, ["true_up_amended"])


def test_an_amendment_below_the_metered_part_adds_nothing() -> None:
    """Amended below its metered part, December's silent share is 0, never negative."""
    wh, _ = _true_up_deduction(
        [december(3_000_000)], {"B": DEC_START}, {"2026-12": 2_500_000}, "2027-01", NY.key
    )
    assert wh == 0


def test_no_deduction_without_a_resumed_meter_or_an_amendment() -> None:
    """Counting from the month's start, or an unamended estimate: nothing is deducted."""
    jan = datetime(2027, 1, 1, tzinfo=NY)
    assert _true_up_deduction([december(0)], {"B": jan}, {"2026-12": 1}, "2027-01", NY.key)[0] == 0
    assert _true_up_deduction([december(0)], {"B": DEC_START}, {}, "2027-01", NY.key)[0] == 0
