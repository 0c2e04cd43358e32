"""DAS report rows → readings per meter, with per-system answers (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.das.intake import (
    ReportRow,
    SystemTarget,
    energy_wh,
    parse_csv_report,
    parse_json_report,
    plan_report,
    reading_time,
)
from ingest.errors import IntakeError
from schemas.reading import Source

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
TARGETS = {
    "S-1": SystemTarget("S-1", "acme", "America/New_York", ("M-1",)),
    "S-2": SystemTarget("S-2", "acme", "America/New_York", ("M-2a", "M-2b")),
    "S-9": SystemTarget("S-9", "solarco", "America/New_York", ("M-9",)),
}


def test_json_rows() -> None:
    """The newer interface's JSON shape, numbers read exactly (no float)."""
    rows = parse_json_report(
        b'{"systems": [{"systemId": "S-1", "meterValue": 1234.567, '
        b'"meterDate": "2026-11-30T23:45:00-05:00"}, '
        b'{"systemId": "S-2", "meterValue": 5, "meterDate": "2026-11-30T12:00", '
        b'"unit": "Wh", "meterId": "M-2a"}]}'
    )
    assert rows == [
        ReportRow(0, "S-1", Decimal("1234.567"), "2026-11-30T23:45:00-05:00"),
        ReportRow(1, "S-2", 5, "2026-11-30T12:00", "Wh", "M-2a"),
    ]


def test_csv_rows() -> None:
    """CSV with the same columns (optional unit and meterId)."""
    rows = parse_csv_report(
        "systemId,meterValue,meterDate,unit\nS-1,1234.5,2026-11-30T23:45:00Z,\n"
        "S-2,99,2026-11-30T12:00,Wh\n"
    )
    assert rows == [
        ReportRow(0, "S-1", "1234.5", "2026-11-30T23:45:00Z", "kWh", None),
        ReportRow(1, "S-2", "99", "2026-11-30T12:00", "Wh", None),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"nope", "the body is not JSON"),
        (b'{"rows": []}', 'expected {"systems"'),
        (b'{"systems": [{"meterValue": 1}]}', "systems[0] needs a systemId"),
    ],
)
def test_json_unreadable(body: bytes, message: str) -> None:
    """A body that is not the report shape is refused as a whole."""
    with pytest.raises(IntakeError) as info:
        parse_json_report(body)
    assert str(info.value).startswith(message)


def test_csv_bad_header() -> None:
    """The CSV header must name the columns."""
    with pytest.raises(IntakeError) as info:
        parse_csv_report("system,value\nS-1,1\n")
    assert str(info.value) == (
        "CSV header must be systemId,meterValue,meterDate[,unit][,meterId]; "
        "missing ['systemId', 'meterValue', 'meterDate'], unknown ['system', 'value']"
    )


@pytest.mark.parametrize(
    ("value", "unit", "wh"),
    [
        (Decimal("1234.567"), "kWh", 1_234_567),
        ("12", "kwh", 12_000),
        (987, "Wh", 987),
        ("0", "Wh", 0),
    ],
)
def test_energy_wh(value: object, unit: str, wh: int) -> None:
    """kWh (default) or Wh, to whole Wh exactly."""
    assert energy_wh(value, unit) == wh


@pytest.mark.parametrize(
    ("value", "unit", "message"),
    [
        ("1.2345", "kWh", "meterValue 1.2345 kWh is not a whole number of Wh"),
        ("-1", "kWh", "meterValue -1 is negative; send the cumulative register"),
        ("abc", "kWh", "meterValue 'abc' is not a number"),
        ("1", "MWh", "unit 'MWh' is not kWh or Wh"),
        (None, "kWh", "meterValue is missing"),
        (True, "kWh", "meterValue is missing"),
        ("NaN", "kWh", "meterValue NaN is not a number"),
    ],
)
def test_energy_wh_refused(value: object, unit: str, message: str) -> None:
    """What cannot be a register in whole Wh is refused with the reason."""
    with pytest.raises(ValueError, match=r".") as info:
        energy_wh(value, unit)
    assert str(info.value) == message


def test_reading_time_local_and_offset() -> None:
    """No offset: the system's local time (EST in November); an offset is respected."""
    assert reading_time("2026-11-30T23:45", "America/New_York") == datetime(
        2026, 12, 1, 4, 45, tzinfo=UTC
    )
    assert reading_time("2026-11-30T23:45:00+00:00", "America/New_York") == datetime(
        2026, 11, 30, 23, 45, tzinfo=UTC
    )


def test_plan_accepts_and_refuses_per_system() -> None:
    """Own systems become batches per meter; unknown and foreign systems are refused whole."""
    rows = [
        ReportRow(0, "S-1", "100.5", "2026-11-30T23:45"),
        ReportRow(1, "S-1", "100", "2026-11-29T23:45"),
        ReportRow(2, "S-404", "1", "2026-11-30T23:45"),
        ReportRow(3, "S-9", "1", "2026-11-30T23:45"),
        ReportRow(4, "S-2", "7", "2026-11-30T23:45", "kWh", "M-2b"),
        ReportRow(5, "S-2", "7", "2026-11-30T23:45"),
    ]
    plan = plan_report("acme", rows, TARGETS, NOW)
    answers = {sid: r.as_json(r.accepted) for sid, r in plan.results.items()}
    assert answers == {
        "S-1": {"systemId": "S-1", "success": True, "recordsInserted": 2, "messages": []},
        "S-404": {
            "systemId": "S-404",
            "success": False,
            "recordsInserted": 0,
            "messages": ["system S-404 is not registered; check the systemId"],
        },
        "S-9": {
            "systemId": "S-9",
            "success": False,
            "recordsInserted": 0,
            "messages": [
                "system S-9 is not reported by provider acme; only its DAS provider of record "
                "may report it"
            ],
        },
        "S-2": {
            "systemId": "S-2",
            "success": False,
            "recordsInserted": 1,
            "messages": [
                "row 6: system S-2 has 2 meters in service; give meterId (one of M-2a, M-2b)"
            ],
        },
    }
    assert [(sid, [r.meter_id for r in b.readings]) for sid, b in plan.batches] == [
        ("S-1", ["M-1", "M-1"]),
        ("S-2", ["M-2b"]),
    ]
    s1 = plan.batches[0][1]
    assert (s1.source, s1.source_id, s1.sent_at) == (Source.DAS, "acme", NOW)
    assert [(r.ts, r.energy_wh) for r in s1.readings] == [
        (datetime(2026, 11, 30, 4, 45, tzinfo=UTC), 100_000),
        (datetime(2026, 12, 1, 4, 45, tzinfo=UTC), 100_500),
    ]
    assert {r.received_at for r in s1.readings} == {NOW}
    assert [r.seq for r in s1.readings] == [1_796_137_200_000_001, 1_796_137_200_000_000]


def test_plan_bad_row_message() -> None:
    """A row with a bad value is refused with its row number; the system's others go on."""
    rows = [ReportRow(0, "S-1", "x", "2026-11-30"), ReportRow(1, "S-1", "1", "30/11/2026")]
    plan = plan_report("acme", rows, TARGETS, NOW)
    assert plan.results["S-1"].messages == [
        "row 1: meterValue 'x' is not a number",
        "row 2: meterDate '30/11/2026' is not an ISO 8601 date-time",
    ]
    assert plan.batches == []


@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=30))
def test_plan_keeps_every_value(values: list[int]) -> None:
    """Every accepted Wh value reaches a batch unchanged, one reading per row."""
    rows = [
        ReportRow(i, "S-1", str(v), f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00", "Wh")
        for i, v in enumerate(values)
    ]
    plan = plan_report("acme", rows, TARGETS, NOW)
    got = sorted(r.energy_wh for _, b in plan.batches for r in b.readings)
    assert got == sorted(values)
    assert plan.results["S-1"].accepted == len(values)
