"""Fuzz the manual report inputs (web/report_form.py for the portal's form; parse_read_at and
an integer register for the CLI and the API) through the rules that accept them
(certification.manual_reports.accept, closing_reading): the result is a reading to store or a
Refused with its reason; nothing else escapes (a 500 on the portal, a traceback in the CLI)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from certification.errors import Refused
from certification.manual_reports import ManualReport, accept, closing_reading, parse_read_at
from certification.roles import Account, Role
from schemas.reading import Reading, Source
from schemas.registry import AccuracyClass, Meter, ReportingMethod, System
from tests.fuzz.budget import fuzz_settings
from web.report_form import parse_report

NOW = datetime(2026, 10, 30, 16, tzinfo=UTC)  # inside October's window in New York
REP = Account("rep-1", Role.REPRESENTATIVE)
ZONES = ["America/New_York", "Pacific/Kiritimati", "Etc/GMT+12", "UTC"]


def system(zone: str) -> System:
    return System(
        system_id="S1",
        owner_id="owner-1",
        representative_id="rep-1",
        capacity_kw_dc=Decimal(10),
        reporting_method=ReportingMethod.MANUAL,
        timezone=zone,
    )


meters = st.builds(
    Meter,
    meter_id=st.just("M1"),
    system_id=st.just("S1"),
    serial=st.just("X1"),
    model=st.just("ACME-1"),
    accuracy_class=st.just(AccuracyClass.PCT_2),
    installed_on=st.just(date(2024, 1, 1)),
    register_digits=st.none() | st.integers(4, 9),
    ct_ratio=st.sampled_from([Decimal(1), Decimal(40), Decimal("0.5")]),
)
lasts = st.none() | st.builds(
    lambda ts, wh: Reading(
        meter_id="M1",
        ts=ts,
        energy_wh=wh,
        source=Source.MANUAL,
        source_id="rep-1",
        seq=0,
        received_at=ts,
    ),
    ts=st.datetimes(datetime(2001, 1, 1), datetime(2026, 10, 30), timezones=st.just(UTC)),
    wh=st.integers(0, 10**12),
)
kwh_texts = st.one_of(
    st.text(max_size=30),
    st.decimals(allow_nan=True).map(str),
    st.sampled_from(["12,345.6", "1e9", "1E-999999999", "-0", "sNaN", "Infinity", "١٢٣", "0.0005"]),
)
date_texts = st.one_of(
    st.text(max_size=12), st.dates().map(str), st.sampled_from(["9999-12-31", "0001-01-01"])
)
time_texts = st.one_of(st.text(max_size=6), st.sampled_from(["", "23:59", "00:00", "24:00"]))
read_at_texts = st.one_of(
    st.text(max_size=40),
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59", "0001-01-01", "0001-01-01T00:00:00+14:00"]),
)


def outcome(report: ManualReport, meter: Meter, zone: str, last: Reading | None) -> str:
    """'reading' or 'refused: code' (anything else raises out of the test)."""
    try:
        accepted = accept(REP, system(zone), meter, report, last, NOW, Decimal(10))
        closing_reading(REP, meter, report, NOW)
    except Refused as refusal:
        return f"refused: {refusal.code}"
    assert 0 <= accepted.energy_wh <= 2**63 - 1  # what PostgreSQL's bigint holds
    assert accepted.ts.tzinfo is not None
    return "reading"


@fuzz_settings
@given(
    kwh=kwh_texts, day=date_texts, clock=time_texts, meter=meters, zone=st.sampled_from(ZONES),
    last=lasts,
)  # fmt: skip
@example(kwh="1", day="9999-12-31", clock="23:59", meter=None, zone="Etc/GMT+12", last=None)
def test_fuzz_report_form_gives_a_reading_or_a_refusal(
    kwh: str, day: str, clock: str, meter: Meter | None, zone: str, last: Reading | None
) -> None:
    """The portal's form: register in kWh, a local date and time."""
    meter = meter or Meter(
        meter_id="M1", system_id="S1", serial="X1", model="ACME-1",
        accuracy_class=AccuracyClass.PCT_2, installed_on=date(2024, 1, 1),
    )  # fmt: skip
    try:
        report = parse_report("M1", kwh, day, clock, zone)
    except Refused:
        return
    outcome(report, meter, zone, last)


@fuzz_settings
@given(
    at=read_at_texts, wh=st.integers(min_value=-(2**70), max_value=2**70), meter=meters,
    zone=st.sampled_from(ZONES), last=lasts, replacement=st.booleans(),
    old=st.none() | st.integers(min_value=-(2**70), max_value=2**70),
)  # fmt: skip
@example(at="0001-01-01T00:00:00+14:00", wh=1, meter=None, zone="UTC", last=None,
         replacement=True, old=1)  # fmt: skip
@example(at="2026-10-30T09:00", wh=2**64, meter=None, zone="UTC", last=None,
         replacement=False, old=None)  # fmt: skip
def test_fuzz_cli_and_api_report_gives_a_reading_or_a_refusal(
    at: str, wh: int, meter: Meter | None, zone: str, last: Reading | None,
    replacement: bool, old: int | None,
) -> None:  # fmt: skip
    """The CLI's --at/--register-wh and the API's read_at/register_wh (an integer of Wh)."""
    meter = meter or Meter(
        meter_id="M1", system_id="S1", serial="X1", model="ACME-1",
        accuracy_class=AccuracyClass.PCT_2, installed_on=date(2024, 1, 1),
    )  # fmt: skip
    try:
        read_at = parse_read_at(at)
    except Refused:
        return
    report = ManualReport("M1", wh, read_at, meter_replacement=replacement, old_register_wh=old)
    outcome(report, meter, zone, last)


def test_window_edges_are_not_mistaken() -> None:
    """A reading inside the window is accepted, one second after NOW is refused as future."""
    inside = ManualReport("M1", 1_000, NOW - timedelta(hours=1))
    future = ManualReport("M1", 1_000, NOW + timedelta(seconds=1))
    meter = Meter(
        meter_id="M1", system_id="S1", serial="X1", model="ACME-1",
        accuracy_class=AccuracyClass.PCT_2, installed_on=date(2024, 1, 1),
    )  # fmt: skip
    assert outcome(inside, meter, "America/New_York", None) == "reading"
    assert outcome(future, meter, "America/New_York", None) == "refused: reading_in_future"
