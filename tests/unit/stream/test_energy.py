"""Interval energy from register differences: rollover, reset, meter swap, interpolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.reading import QualityFlag, ReadingEvent
from stream.energy import (
    Interval,
    PowerLimit,
    RegisterPoint,
    intervals,
    register_delta,
    split_interval,
)

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
MOD = 2**32  # acc32 with scale factor 0: wraps at 4,294,967,296 Wh


def p(minutes: int, wh: int, **kw: object) -> RegisterPoint:
    return RegisterPoint(T + timedelta(minutes=minutes), wh, **kw)  # type: ignore[arg-type]


def test_plain_difference() -> None:
    """Energy is the register difference."""
    assert register_delta(p(0, 1000), p(5, 1417)) == (417, frozenset())


def test_rollover_at_the_modulus() -> None:
    """A register that wraps at 2^32 counts the energy across the wrap."""
    energy, flags = register_delta(p(0, MOD - 300, modulus_wh=MOD), p(5, 200, modulus_wh=MOD))
    assert energy == 500
    assert flags == {QualityFlag.ROLLOVER}


def test_small_drop_with_modulus_is_a_reset_not_a_rollover() -> None:
    """Going down by less than half the modulus is a backwards step that looks like a reset:
    flagged RESET and counted 0 until staff resolve it (no reading said it was reset)."""
    energy, flags = register_delta(p(0, 10_000, modulus_wh=MOD), p(5, 40, modulus_wh=MOD))
    assert (energy, flags) == (0, frozenset({QualityFlag.RESET}))


def test_reset_without_modulus() -> None:
    """A register back near zero, unannounced, is flagged RESET and counts 0."""
    assert register_delta(p(0, 5_000_000), p(5, 12)) == (0, frozenset({QualityFlag.RESET}))


def test_flagged_reset_counts_from_zero_even_when_higher() -> None:
    """A reading flagged RESET counts from zero even if its value is above the last."""
    assert register_delta(p(0, 100), p(5, 900, reset=True)) == (900, frozenset({QualityFlag.RESET}))


def test_meter_swap_adds_nothing_across_the_swap() -> None:
    """Closing read of the old meter, opening read of the new: the swap itself adds 0."""
    points = [
        p(0, 9_000),
        p(5, 9_400, event=ReadingEvent.CLOSING),
        p(10, 20, event=ReadingEvent.OPENING),
        p(15, 520),
    ]
    got = [(i.energy_wh, i.flags) for i in intervals(points)]
    assert got == [(400, frozenset()), (0, {QualityFlag.METER_REPLACED}), (500, frozenset())]


def test_intervals_sort_and_drop_repeated_instants() -> None:
    """Out-of-order points are sorted; a repeated instant keeps its first point."""
    got = intervals([p(10, 300), p(0, 100), p(5, 250), p(5, 999)])
    assert [(i.start, i.end, i.energy_wh) for i in got] == [
        (T, T + timedelta(minutes=5), 150),
        (T + timedelta(minutes=5), T + timedelta(minutes=10), 50),
    ]


def test_split_sums_exactly_and_floors_the_interpolated_register() -> None:
    """1,000 Wh over 3 hours split after 1 h and 2 h: 333 + 333 + 334, summing to 1,000."""
    interval = Interval(T, T + timedelta(hours=3), 1000)
    pieces = split_interval(interval, [T + timedelta(hours=1), T + timedelta(hours=2)])
    assert [e for _, e in pieces] == [333, 333, 334]
    assert [s for s, _ in pieces] == [T, T + timedelta(hours=1), T + timedelta(hours=2)]


def test_split_ignores_boundaries_on_the_ends() -> None:
    """A boundary at the interval's end leaves it whole (it belongs to the earlier bucket)."""
    interval = Interval(T, T + timedelta(hours=1), 700)
    assert split_interval(interval, [T, T + timedelta(hours=1)]) == [(T, 700)]


def test_split_across_dst_measures_real_time_not_wall_clock() -> None:
    """Ends in New York local time across the fall-back hour split like their UTC twins."""
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    start_utc = datetime(2026, 11, 1, 4, tzinfo=UTC)  # 00:00 EDT
    end_utc = start_utc + timedelta(hours=4)  # 03:00 EST: 4 real hours, 3 on the wall clock
    boundary = start_utc + timedelta(hours=1)
    in_utc = split_interval(Interval(start_utc, end_utc, 400), [boundary])
    local = Interval(start_utc.astimezone(ny), end_utc.astimezone(ny), 400)
    in_local = split_interval(local, [boundary.astimezone(ny)])
    assert [e for _, e in in_utc] == [100, 300]
    assert [e for _, e in in_local] == [100, 300]


SF1 = 2**32 * 10  # acc32 with TotWh_SF = 1: 10 Wh a count, wraps at 42,949,672,960 Wh
TEN_KW = PowerLimit(Decimal(10))  # 10 kW DC × 1.2: at most 12 kW


def s(seconds: int, wh: int, **kw: object) -> RegisterPoint:
    return RegisterPoint(T + timedelta(seconds=seconds), wh, **kw)  # type: ignore[arg-type]


def test_a_step_back_just_after_a_wrap_is_not_a_forward_wrap() -> None:
    """Issue 10 item 0: the register wraps, then a restart restores a value from before the
    wrap (about 4 kWh back). The 40 s interval is a backwards step counted 0, not
    42,949,668,850 Wh; the genuine wrap before it and the counting after it stay exact."""
    points = [
        s(0, SF1 - 30, modulus_wh=SF1),
        s(40, 20, modulus_wh=SF1),  # wrapped: 50 Wh in 40 s (4.5 kW)
        s(80, SF1 - 4_110, modulus_wh=SF1),  # restored an older value
        s(120, SF1 - 4_060, modulus_wh=SF1),
    ]
    got = [(i.energy_wh, i.flags) for i in intervals(points, TEN_KW)]
    assert got == [
        (50, {QualityFlag.ROLLOVER}),
        (0, {QualityFlag.NON_MONOTONIC}),
        (50, frozenset()),
    ]


def test_the_same_step_back_without_a_known_limit_is_still_backwards() -> None:
    """With no capacity known the smaller movement wins: 4,130 Wh back, not 42.9 GWh on."""
    prev, cur = s(0, 20, modulus_wh=SF1), s(40, SF1 - 4_110, modulus_wh=SF1)
    assert register_delta(prev, cur) == (0, frozenset({QualityFlag.NON_MONOTONIC}))


def test_a_wrap_beyond_the_capacity_is_a_backwards_step() -> None:
    """Down from near the top to 500 kWh in 40 s would be 1.5 MWh at 10 kW: not a wrap but a
    register gone back (below half its value: it looks reset), counted 0."""
    prev, cur = s(0, SF1 - 1_000_000, modulus_wh=SF1), s(40, 500_000, modulus_wh=SF1)
    assert register_delta(prev, cur, TEN_KW) == (0, frozenset({QualityFlag.RESET}))
    assert register_delta(prev, cur) == (
        1_500_000,
        frozenset({QualityFlag.ROLLOVER}),
    )  # limit unknown


def test_a_wrap_within_the_capacity_counts_even_on_a_fast_poll() -> None:
    """One register step (10 Wh) across the wrap in 1 s is 36 kW by the clock, but the time
    is counted as at least ROLLOVER_MIN_SPAN, so register resolution cannot refuse a wrap."""
    prev, cur = s(0, SF1 - 10, modulus_wh=SF1), s(1, 0, modulus_wh=SF1)
    assert register_delta(prev, cur, TEN_KW) == (10, frozenset({QualityFlag.ROLLOVER}))
    hour_at_capacity = s(3600, 11_990, modulus_wh=SF1)
    assert register_delta(prev, hour_at_capacity, TEN_KW) == (
        12_000,
        frozenset({QualityFlag.ROLLOVER}),
    )
    over = s(3600, 12_000, modulus_wh=SF1)
    assert register_delta(prev, over, TEN_KW) == (0, frozenset({QualityFlag.RESET}))


def test_a_forward_jump_without_a_wrap_is_counted_and_flagged() -> None:
    """An increase below half the modulus is forward energy even when implausible: it is
    kept, flagged IMPLAUSIBLE_POWER, and month close holds the month (over_capacity)."""
    got = intervals([s(0, 1_000, modulus_wh=SF1), s(60, 900_000, modulus_wh=SF1)], TEN_KW)
    assert [(i.energy_wh, i.flags) for i in got] == [
        (899_000, frozenset({QualityFlag.IMPLAUSIBLE_POWER}))
    ]
