"""Month close, pure: production from register readings, completeness, erratic-data findings
and estimates, with exact values (America/New_York; November 2026 has 721 hours)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certification.certification_report import LedgerEntry, certificate_ranges
from certification.month_close import active_meters, estimate_wh, meter_month
from schemas import AccuracyClass, Meter, ReadingEvent
from stream.energy import RegisterPoint

NY_NAME = "America/New_York"
NY = ZoneInfo(NY_NAME)
TEN = Decimal(10)


def midnights(first: date, per_day: list[int], start_wh: int = 1_000_000) -> list[RegisterPoint]:
    """A reading at each local midnight from `first`, the register growing by per_day[i]."""
    points, value = [], start_wh
    for index in range(len(per_day) + 1):
        day = first + timedelta(days=index)
        if index:
            value += per_day[index - 1]
        points.append(RegisterPoint(datetime(day.year, day.month, day.day, tzinfo=NY), value))
    return points


def codes(points: list[RegisterPoint], month: str = "2026-11", kw: Decimal = TEN) -> list[str]:
    return [f.code for f in meter_month("M1", points, month, NY_NAME, kw).findings]


def test_november_production_and_trace() -> None:
    """30 days × 40 kWh = 1,200,000 Wh; 30 readings inside; first and last point traced."""
    result = meter_month("M1", midnights(date(2026, 11, 1), [40_000] * 30), "2026-11", NY_NAME, TEN)
    assert (result.energy_wh, result.readings, result.covered, result.estimated) == (
        1_200_000,
        30,
        True,
        False,
    )
    assert result.first == (datetime(2026, 11, 1, 4, tzinfo=UTC), 1_000_000)
    assert result.last == (datetime(2026, 12, 1, 5, tzinfo=UTC), 2_200_000)
    assert result.findings == []


def test_month_boundary_interpolated_at_local_midnight_across_dst() -> None:
    """Noon Oct 31 EDT to noon Nov 1 EST is 25 h and 25,000 Wh: 12 h (12,000 Wh) fall in
    October, 13 h (13,000 Wh) in November."""
    points = [
        RegisterPoint(datetime(2026, 10, 31, 12, tzinfo=NY), 0),
        RegisterPoint(datetime(2026, 11, 1, 12, tzinfo=NY), 25_000),
    ]
    october = meter_month("M1", points, "2026-10", NY_NAME, TEN)
    november = meter_month("M1", points, "2026-11", NY_NAME, TEN)
    assert (october.energy_wh, november.energy_wh) == (12_000, 13_000)


def test_over_capacity_boundary_in_a_721_hour_month() -> None:
    """10 kW × 721 h × 0.30 = 2,163,000 Wh is allowed; one Wh more is flagged."""
    at_limit = [72_100] * 30
    assert codes(midnights(date(2026, 11, 1), at_limit)) == []
    above = [*at_limit[:-1], 72_101]
    assert codes(midnights(date(2026, 11, 1), above)) == ["over_capacity"]


def test_zero_month_and_flat_line() -> None:
    """A zero month is flagged as such; 3 zero days in a row is a flat line, 2 is not."""
    assert codes(midnights(date(2026, 11, 1), [0] * 30)) == ["zero_month"]
    two = [40_000] * 10 + [0] * 2 + [40_000] * 18
    three = [40_000] * 10 + [0] * 3 + [40_000] * 17
    assert codes(midnights(date(2026, 11, 1), two)) == []
    assert codes(midnights(date(2026, 11, 1), three)) == ["flat_line"]


def test_gaps_longer_than_two_days() -> None:
    """A 2-day interval is no gap; a 3-day one is; readings that stop early leave a gap."""
    points = midnights(date(2026, 11, 1), [40_000] * 30)
    assert codes(points[:10] + points[11:]) == []
    result = meter_month("M1", points[:10] + points[12:], "2026-11", NY_NAME, TEN)
    assert [f.message for f in result.findings] == ["longest gap 3 days, 0:00:00"]
    stops = meter_month("M1", points[:20], "2026-11", NY_NAME, TEN)
    assert ([f.code for f in stops.findings], stops.covered, stops.energy_wh) == (
        ["gap"],
        False,
        760_000,
    )


def test_backwards_register_and_rollover() -> None:
    """A reset (unannounced: counted 0) is flagged and disagrees with the register; a wrap
    at the register's modulus is counted across and not flagged."""
    points = midnights(date(2026, 11, 1), [40_000] * 30)
    reset = points[:15] + [RegisterPoint(p.ts, p.energy_wh - 1_560_000) for p in points[15:]]
    result = meter_month("M1", reset, "2026-11", NY_NAME, TEN)
    assert result.energy_wh == 15 * 40_000 + 0 + 14 * 40_000  # the reset day counts 0
    assert [f.code for f in result.findings] == ["backwards_register", "register_mismatch"]
    modulus = 2_000_000
    wrapped = [
        RegisterPoint(p.ts, p.energy_wh % modulus, modulus_wh=modulus)
        for p in midnights(date(2026, 11, 1), [40_000] * 30, start_wh=1_500_000)
    ]
    rolled = meter_month("M1", wrapped, "2026-11", NY_NAME, TEN)
    assert (rolled.energy_wh, rolled.findings) == (1_200_000, [])


def test_night_production_threshold() -> None:
    """10 kW × 5 Wh/kW = 50 Wh between 23:00 and 03:00 is tolerated; 51 Wh is flagged."""
    for night_wh, expected in ((50, []), (51, ["night_production"])):
        points = midnights(date(2026, 11, 1), [40_000] * 30)
        base = points[10]
        extra = [
            RegisterPoint(base.ts - timedelta(minutes=30), base.energy_wh - night_wh),
            RegisterPoint(base.ts + timedelta(hours=2), base.energy_wh + 0),
        ]
        assert codes(points + extra) == expected


def test_missing_month_is_estimated_from_capacity_or_history() -> None:
    """No reading: 10 kW × 60 kWh/kW typical November = 600,000 Wh, flagged as an estimate;
    with earlier Novembers on record, their mean."""
    plain = meter_month("M1", [], "2026-11", NY_NAME, TEN)
    assert (plain.energy_wh, plain.estimated, [f.code for f in plain.findings]) == (
        600_000,
        True,
        ["missing_month"],
    )
    known = meter_month("M1", [], "2026-11", NY_NAME, TEN, history_wh=[500_000, 700_001])
    assert (known.energy_wh, known.estimated) == (600_000, True)
    assert estimate_wh(Decimal("7.5"), "2026-07") == 1_125_000


def test_active_meters_of_a_month() -> None:
    """A meter removed before the month, or installed after it, takes no part in it."""

    def meter(mid: str, on: date, off: date | None) -> Meter:
        return Meter(
            meter_id=mid,
            system_id="S1",
            serial=mid,
            model="ACME-1",
            accuracy_class=AccuracyClass.PCT_1,
            installed_on=on,
            removed_on=off,
        )

    meters = [
        meter("old", date(2020, 1, 1), date(2026, 10, 31)),
        meter("swap", date(2020, 1, 1), date(2026, 11, 1)),
        meter("new", date(2026, 11, 30), None),
        meter("later", date(2026, 12, 1), None),
    ]
    assert [m.meter_id for m in active_meters(meters, "2026-11")] == ["swap", "new"]


@pytest.mark.parametrize(
    ("minted", "ranges"),
    [([1, 0, 2, 1], [(1, 1), (None, None), (2, 3), (4, 4)]), ([0], [(None, None)])],
)
def test_certificate_serials_run_on_per_system(
    minted: list[int], ranges: list[tuple[int | None, int | None]]
) -> None:
    """Each ledger entry's certificates take the next serials of the system."""
    entries = [
        LedgerEntry(
            "S1", f"2026-0{i + 1}", "close", Decimal(1), Decimal(1), Decimal(0), n, Decimal(0)
        )
        for i, n in enumerate(minted)
    ]
    found = [(r.first_serial, r.last_serial) for r in certificate_ranges(entries)]
    assert found == ranges


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=NY)


def test_manual_monthly_reports_chain_from_close_to_close() -> None:
    """Reports on Jul 28 and Aug 29 at noon: July counts to its report (no gap: it came in the
    window), August resumes there and runs to Sep 1 00:00; together they are the register
    difference from Jul 1 00:00 to Sep 1 00:00 (3,540,000 − 1,060,000 Wh)."""
    reports = [
        RegisterPoint(at(6, 29, 12), 1_000_000),
        RegisterPoint(at(7, 28, 12), 2_160_000),
        RegisterPoint(at(8, 29, 12), 3_440_000),
        RegisterPoint(at(9, 28, 12), 4_640_000),
    ]
    july = meter_month("M1", reports[:2], "2026-07", NY_NAME, TEN, manual=True)
    assert (july.energy_wh, july.findings, july.end_at) == (1_100_000, [], at(7, 28, 12))
    august = meter_month("M1", reports, "2026-08", NY_NAME, TEN, since=july.end_at, manual=True)
    assert (august.energy_wh, august.findings, august.end_at) == (1_380_000, [], at(9, 1))
    assert july.energy_wh + august.energy_wh == 2_480_000


def test_a_missed_manual_report_leaves_a_gap_and_the_next_close_trues_up() -> None:
    """Last report Jul 20 (before the window): July is flagged; with no report at all in
    August it is estimated (10 kW × 135 kWh/kW), and September, reported on
    Sep 29 in its window, counts everything from Jul 20 on."""
    reports = [RegisterPoint(at(6, 29, 12), 1_000_000), RegisterPoint(at(7, 20), 1_820_000)]
    july = meter_month("M1", reports, "2026-07", NY_NAME, TEN, manual=True)
    assert [f.message for f in july.findings] == ["no reading after 2026-07-20T04:00:00+00:00"]
    august = meter_month("M1", reports, "2026-08", NY_NAME, TEN, since=july.end_at, manual=True)
    assert (august.estimated, august.energy_wh, august.end_at) == (True, 1_350_000, at(7, 20))
    later = [*reports, RegisterPoint(at(9, 29), 5_000_000)]
    september = meter_month("M1", later, "2026-09", NY_NAME, TEN, since=august.end_at, manual=True)
    assert (september.energy_wh, [f.message for f in september.findings]) == (
        3_180_000,  # everything since Jul 20: August's actual energy is counted now
        ["longest gap 71 days, 0:00:00"],
    )


@settings(max_examples=60, deadline=None)
@given(
    hours=st.lists(st.integers(min_value=1, max_value=400), min_size=2, max_size=12),
    per_hour=st.lists(st.integers(min_value=0, max_value=10_000), min_size=12, max_size=12),
    seen=st.integers(min_value=1, max_value=12),
)
def test_chained_closes_count_every_watt_hour_once(
    hours: list[int], per_hour: list[int], seen: int
) -> None:
    """Whatever July's close saw, July + August = the register from Jul 1 00:00 to Sep 1
    00:00, interpolated, once the readings span both months."""
    points = [RegisterPoint(at(6, 30, 12), 0)]
    for step, rate in zip(hours, per_hour, strict=False):
        last = points[-1]
        points.append(RegisterPoint(last.ts + timedelta(hours=step), last.energy_wh + step * rate))
    points.append(RegisterPoint(at(9, 2), points[-1].energy_wh + 1_000))
    july = meter_month("M1", points[:seen], "2026-07", NY_NAME, TEN)
    august = meter_month("M1", points, "2026-08", NY_NAME, TEN, since=july.end_at)
    both = meter_month("M1", points, "2026-07", NY_NAME, TEN).energy_wh
    both += meter_month("M1", points, "2026-08", NY_NAME, TEN).energy_wh
    july_actual = 0 if july.estimated else july.energy_wh
    assert july_actual + august.energy_wh == both


def test_meter_swap_counts_both_meters_and_is_not_a_mismatch() -> None:
    """The old meter closes at 1,580,000 Wh at 11:59:59 on Nov 15, the new one opens at 0 at
    noon: 560,000 + 20,000 before the swap, 20,000 + 600,000 after, nothing across it."""
    old = midnights(date(2026, 11, 1), [40_000] * 14)
    noon = datetime(2026, 11, 15, 12, tzinfo=NY)
    swap = [
        RegisterPoint(noon - timedelta(seconds=1), 1_580_000, ReadingEvent.CLOSING),
        RegisterPoint(noon, 0, ReadingEvent.OPENING),
    ]
    new = [
        RegisterPoint(p.ts, p.energy_wh - 1_000_000 + 20_000)
        for p in midnights(date(2026, 11, 16), [40_000] * 15)
    ]
    result = meter_month("M1", old + swap + new, "2026-11", NY_NAME, TEN)
    assert (result.energy_wh, result.findings) == (1_200_000, [])


def test_a_swap_without_the_old_meters_closing_reading_is_a_finding() -> None:
    """Issue 10 item 10: the new meter opens at noon on Nov 15 with no closing read of the old
    one: the old meter's last 12 hours (from midnight) count 0, and a finding says so."""
    old = midnights(date(2026, 11, 1), [40_000] * 14)
    noon = datetime(2026, 11, 15, 12, tzinfo=NY)
    new = [
        RegisterPoint(noon, 0, ReadingEvent.OPENING),
        *(
            RegisterPoint(p.ts, p.energy_wh - 1_000_000 + 20_000)
            for p in midnights(date(2026, 11, 16), [40_000] * 15)
        ),
    ]
    result = meter_month("M1", old + new, "2026-11", NY_NAME, TEN)
    assert result.energy_wh == 1_180_000
    assert [(f.code, f.message) for f in result.findings] == [
        (
            "replacement_unread",
            "meter replaced by 2026-11-15T17:00:00+00:00 without the old meter's closing "
            "reading: its energy after 2026-11-15T05:00:00+00:00 is counted 0; report its "
            "final register",
        )
    ]


def test_a_month_boundary_split_across_a_long_gap_is_an_estimate() -> None:
    """Issue 10 item 12: readings at 22:00 and 02:00 around midnight of Nov 30 (4 h): the
    split at the month's end is interpolated across more than 3 h, so November's share is
    an estimate: flagged ESTIMATED with a finding. Within 3 h it is only INTERPOLATED."""
    days = midnights(date(2026, 11, 1), [40_000] * 29)  # Nov 1 … Nov 30 00:00
    last = days[-1]
    for hours, flag, codes_expected in (
        (4, "estimated", ["estimated_boundary"]),
        (3, "interpolated", []),
    ):
        before = last.ts + timedelta(hours=24 - hours / 2)
        around = [
            RegisterPoint(before, last.energy_wh + 40_000),
            RegisterPoint(before + timedelta(hours=hours), last.energy_wh + 40_000 + 400),
        ]
        result = meter_month("M1", days + around, "2026-11", NY_NAME, TEN)
        assert result.energy_wh == 29 * 40_000 + 40_000 + 200
        assert [f.code for f in result.findings] == codes_expected
        assert flag in result.flags


def test_an_interval_above_the_power_limit_is_a_finding_that_holds() -> None:
    """50 kWh registered in one hour on a 10 kW system (limit 12 kW) is flagged by the stream;
    the month (1.25 MWh, under the monthly capacity check) still gets implausible_power,
    which holds it by default."""
    from certification.holds import HOLDING_FINDINGS

    points = midnights(date(2026, 11, 1), [40_000] * 30)
    base = points[10]
    spike = [
        RegisterPoint(base.ts + timedelta(hours=12), base.energy_wh),
        RegisterPoint(base.ts + timedelta(hours=13), base.energy_wh + 50_000),
    ]
    shifted = points[:11] + spike + [RegisterPoint(p.ts, p.energy_wh + 50_000) for p in points[11:]]
    result = meter_month("M1", shifted, "2026-11", NY_NAME, TEN)
    assert result.energy_wh == 1_250_000
    assert [(f.code, f.message) for f in result.findings] == [
        (
            "implausible_power",
            "50000 Wh from 2026-11-11T17:00:00+00:00 to 2026-11-11T18:00:00+00:00 is above "
            "10 kW DC × 1.2",
        )
    ]
    assert "implausible_power" in HOLDING_FINDINGS


def test_manual_dial_rollover_is_no_register_mismatch() -> None:
    """A 5-digit kWh dial read in the windows: 99,600 kWh on Oct 29, 520 kWh on Nov 28 (it
    rolled over). The month's boundary is interpolated across the wrap, so the interval sum
    and the register difference agree: 920 kWh over the two readings, no register_mismatch,
    nothing holds the month."""
    modulus = 100_000_000  # Wh: 10^5 kWh
    points = [
        RegisterPoint(datetime(2026, 10, 29, 16, tzinfo=UTC), 99_600_000, modulus_wh=modulus),
        RegisterPoint(datetime(2026, 11, 28, 17, tzinfo=UTC), 520_000, modulus_wh=modulus),
        RegisterPoint(datetime(2026, 12, 29, 17, tzinfo=UTC), 1_100_000, modulus_wh=modulus),
    ]
    result = meter_month("M1", points, "2026-11", NY_NAME, Decimal(8), manual=True)
    assert "register_mismatch" not in [f.code for f in result.findings]
    # Nov 1 04:00Z is 60 of the first interval's 721 h: 920,000 - 920,000*60//721 = 843,440;
    # Dec 1 05:00Z is 60 of the second's 744 h: 580,000*60//744 = 46,774
    assert result.energy_wh == 843_440 + 46_774


def test_a_leap_february_counts_its_29th_day() -> None:
    """February 2028 has 29 local days (696 h): 29 × 40,000 Wh, the reading at Feb 29 00:00
    inside, covered; its over-capacity bound is 10 kW × 696 h × 0.30 = 2,088,000 Wh (the
    amendment bound too), and 2,088,001 Wh is over it."""
    from certification.month_close import most_plausible_wh

    result = meter_month("M1", midnights(date(2028, 2, 1), [40_000] * 29), "2028-02", NY_NAME, TEN)
    over = meter_month(
        "M1", midnights(date(2028, 2, 1), [72_000] * 28 + [72_001]), "2028-02", NY_NAME, TEN
    )
    assert (result.energy_wh, result.readings, result.covered, result.findings) == (
        1_160_000,
        29,
        True,
        [],
    )
    assert most_plausible_wh(TEN, "2028-02", NY_NAME) == Decimal(2_088_000)
    assert [f.code for f in over.findings] == ["over_capacity"]
