"""Neighbour-based VEE: unexplained register drops and implausible power are flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.reading import QualityFlag
from stream.energy import PowerLimit, RegisterPoint, intervals, register_delta

T = datetime(2026, 6, 1, 12, tzinfo=UTC)


def p(minutes: int, wh: int, **kw: object) -> RegisterPoint:
    return RegisterPoint(T + timedelta(minutes=minutes), wh, **kw)  # type: ignore[arg-type]


def test_small_unexplained_drop_counts_nothing_and_is_flagged() -> None:
    """1,100 → 1,050 is neither rollover, reset nor swap: 0 Wh, flagged non_monotonic."""
    assert register_delta(p(0, 1_100), p(15, 1_050)) == (0, frozenset({QualityFlag.NON_MONOTONIC}))


def test_drop_below_half_is_a_reset() -> None:
    """A register that falls below half its last value looks cleared: flagged RESET, and as
    no reading said so, a backwards step counted 0 until staff resolve it."""
    assert register_delta(p(0, 1_100), p(15, 549)) == (0, frozenset({QualityFlag.RESET}))


def test_glitch_overcounts_at_most_the_dip() -> None:
    """1,000, 1,100, 1,050 (glitch), 1,200: 100 + 0 + 150, the dip is flagged."""
    got = [(i.energy_wh, i.flags) for i in intervals([p(0, 1000), p(15, 1100), p(30, 1050),
                                                       p(45, 1200)])]  # fmt: skip
    assert got == [(100, frozenset()), (0, {QualityFlag.NON_MONOTONIC}), (150, frozenset())]


def test_power_above_capacity_times_tolerance_is_flagged_but_counted() -> None:
    """10 kW DC × 1.2 allows 3,000 Wh per 15 minutes; 3,001 Wh is implausible (kept raw)."""
    limit = PowerLimit(Decimal("10"), Decimal("1.2"))
    ok, high = intervals([p(0, 0), p(15, 3_000), p(30, 6_001)], limit)
    assert (ok.energy_wh, ok.flags) == (3_000, frozenset())
    assert (high.energy_wh, high.flags) == (3_001, frozenset({QualityFlag.IMPLAUSIBLE_POWER}))


def test_power_limit_applies_after_rollover() -> None:
    """A wrap at the modulus is judged on the energy across the wrap, not the raw drop."""
    limit = PowerLimit(Decimal("10"), Decimal("1.2"))
    mod = 1_000_000
    (got,) = intervals([p(0, mod - 100, modulus_wh=mod), p(15, 200, modulus_wh=mod)], limit)
    assert (got.energy_wh, got.flags) == (300, frozenset({QualityFlag.ROLLOVER}))
