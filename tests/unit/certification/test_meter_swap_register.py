"""The register check in a meter-swap month (certificates engineer, session 6): the interval
sum is compared with the register difference per meter segment (the old meter up to its
closing read, the new one from its opening read), so a swap month is checked like any other
(before: no register check at all in a swap month)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from certification.month_close import meter_month
from schemas import ReadingEvent
from stream.energy import RegisterPoint
from tests.unit.certification.test_month_close import NY, NY_NAME, TEN, midnights

NOON = datetime(2026, 11, 15, 12, tzinfo=NY)
STEP_OLD = datetime(2026, 11, 10, tzinfo=NY)
STEP_NEW = datetime(2026, 11, 26, tzinfo=NY)


def _old_meter(step_back_wh: int = 0) -> list[RegisterPoint]:
    """The old meter: 1,000,000 Wh on Nov 1, 40,000 Wh a day, closing at 1,580,000 Wh at
    11:59:59 on Nov 15; from Nov 10 on its register reads `step_back_wh` lower."""
    points = midnights(date(2026, 11, 1), [40_000] * 14)
    points = [
        RegisterPoint(p.ts, p.energy_wh - (step_back_wh if p.ts >= STEP_OLD else 0)) for p in points
    ]
    return [
        *points,
        RegisterPoint(NOON - timedelta(seconds=1), 1_580_000 - step_back_wh, ReadingEvent.CLOSING),
    ]


def _new_meter(step_back_wh: int = 0) -> list[RegisterPoint]:
    """The new meter: opens at 0 at noon on Nov 15, 20,000 Wh at midnight, then 40,000 Wh a
    day; from Nov 26 on its register reads `step_back_wh` lower."""
    return [
        RegisterPoint(NOON, 0, ReadingEvent.OPENING),
        *(
            RegisterPoint(
                p.ts, p.energy_wh - 1_000_000 + 20_000 - (step_back_wh if p.ts >= STEP_NEW else 0)
            )
            for p in midnights(date(2026, 11, 16), [40_000] * 15)
        ),
    ]


def test_a_new_meter_segment_disagreeing_with_its_register_is_flagged() -> None:
    """The new meter steps back 100,000 Wh on Nov 26 (counted 0): its segment sums 20,000 +
    9 × 40,000 + 0 + 5 × 40,000 = 580,000 Wh, its register moved 0 → 520,000 Wh: more than
    1% apart, register_mismatch besides backwards_register. The month: 580,000 (old) +
    580,000 (new) = 1,160,000 Wh."""
    result = meter_month("M1", _old_meter() + _new_meter(100_000), "2026-11", NY_NAME, TEN)
    assert result.energy_wh == 1_160_000
    assert [(f.code, f.message) for f in result.findings][1:] == [
        (
            "register_mismatch",
            "meter segment 2026-11-15T17:00:00+00:00 → 2026-12-01T05:00:00+00:00: interval "
            "sum 580000 Wh differs from the register difference 520000 Wh by more than 1%",
        )
    ]
    assert result.findings[0].code == "backwards_register"


def test_an_old_meter_segment_disagreeing_with_its_register_is_flagged() -> None:
    """The old meter steps back 100,000 Wh at midnight of Nov 10: its segment sums 8 ×
    40,000 + 0 + 5 × 40,000 + 20,000 = 540,000 Wh, its register moved 1,000,000 →
    1,480,000 Wh (480,000 Wh): register_mismatch for that segment only."""
    result = meter_month("M1", _old_meter(100_000) + _new_meter(), "2026-11", NY_NAME, TEN)
    assert result.energy_wh == 540_000 + 620_000
    assert [(f.code, f.message) for f in result.findings] == [
        (
            "backwards_register",
            "the register went backwards (1320000 Wh → 1260000 Wh at "
            "2026-11-10T05:00:00+00:00); each step counted 0",
        ),
        (
            "register_mismatch",
            "meter segment 2026-11-01T04:00:00+00:00 → 2026-11-15T16:59:59+00:00: interval "
            "sum 540000 Wh differs from the register difference 480000 Wh by more than 1%",
        ),
    ]


def test_a_clean_swap_month_agrees_per_segment() -> None:
    """Both segments agree with their registers (580,000 and 620,000 Wh): no finding."""
    result = meter_month("M1", _old_meter() + _new_meter(), "2026-11", NY_NAME, TEN)
    assert (result.energy_wh, result.findings) == (1_200_000, [])
