"""A DAS provider states a meter swap: the old meter's closing read, the new one's opening
read (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.das.intake import SystemTarget, parse_csv_report, parse_json_report, plan_report
from schemas.reading import QualityFlag, ReadingEvent
from stream.energy import RegisterPoint, intervals

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
TARGETS = {"S-1": SystemTarget("S-1", "acme", "America/New_York", ("M-1",))}
SWAP_JSON = (
    b'{"systems": ['
    b'{"systemId": "S-1", "meterValue": 1000, "meterDate": "2026-12-01T10:00:00Z"},'
    b'{"systemId": "S-1", "meterValue": 1005, "meterDate": "2026-12-01T11:00:00Z",'
    b' "event": "closing"},'
    b'{"systemId": "S-1", "meterValue": 0.5, "meterDate": "2026-12-01T11:05:00Z",'
    b' "event": "opening"},'
    b'{"systemId": "S-1", "meterValue": 3, "meterDate": "2026-12-01T12:00:00Z"}]}'
)


def test_json_swap_reads_become_closing_and_opening_readings() -> None:
    """The closing read counts the old meter to its end (5,000 Wh), the swap itself 0, the
    new meter from its opening read (2,500 Wh): 7,500 Wh, the swap flagged METER_REPLACED."""
    plan = plan_report("acme", parse_json_report(SWAP_JSON), TARGETS, NOW)
    ((_, batch),) = plan.batches
    assert [(r.energy_wh, r.event) for r in batch.readings] == [
        (1_000_000, None),
        (1_005_000, ReadingEvent.CLOSING),
        (500, ReadingEvent.OPENING),
        (3_000, None),
    ]
    parts = intervals(RegisterPoint.of(r) for r in batch.readings)
    assert [(i.energy_wh, sorted(i.flags)) for i in parts] == [
        (5_000, []),
        (0, [QualityFlag.METER_REPLACED]),
        (2_500, []),
    ]


def test_csv_event_column_and_unknown_event() -> None:
    """CSV takes an optional event column; an event other than closing/opening is refused
    with what to send."""
    rows = parse_csv_report(
        "systemId,meterValue,meterDate,event\n"
        "S-1,1005,2026-12-01T11:00:00Z,closing\n"
        "S-1,0.5,2026-12-01T11:05:00Z,opening\n"
        "S-1,3,2026-12-01T12:00:00Z,swap\n"
    )
    plan = plan_report("acme", rows, TARGETS, NOW)
    ((_, batch),) = plan.batches
    assert [r.event for r in batch.readings] == [ReadingEvent.CLOSING, ReadingEvent.OPENING]
    assert plan.results["S-1"].messages == [
        "row 3: event 'swap' is not closing or opening; mark a meter swap with the old "
        "meter's closing read and the new meter's opening read"
    ]


@pytest.mark.parametrize("event", ["", None])
def test_no_event_is_a_plain_reading(event: object) -> None:
    """An empty or absent event is an ordinary reading."""
    rows = parse_json_report(
        b'{"systems": [{"systemId": "S-1", "meterValue": 1, "meterDate": '
        b'"2026-12-01T10:00:00Z"' + (b"" if event is None else b', "event": ""') + b"}]}"
    )
    ((_, batch),) = plan_report("acme", rows, TARGETS, NOW).batches
    assert batch.readings[0].event is None
