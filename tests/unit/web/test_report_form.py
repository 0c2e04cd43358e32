"""The manual report form's parsing: kWh as typed → integer Wh, local date and time."""

from __future__ import annotations

import pytest

from certification.errors import Refused
from web.report_form import parse_report, register_wh


@pytest.mark.parametrize(
    ("typed", "wh"),
    [
        ("12,345.6", 12_345_600),
        ("0", 0),
        ("7", 7_000),
        (" 1 234.567 ", 1_234_567),
        ("0.001", 1),
        ("99999.9", 99_999_900),
    ],
)
def test_register_wh_is_exact(typed: str, wh: int) -> None:
    assert register_wh(typed) == wh


@pytest.mark.parametrize("typed", ["", "abc", "-5", "1.2345", "1e12", "NaN", "inf"])
def test_register_wh_refuses(typed: str) -> None:
    with pytest.raises(Refused) as caught:
        register_wh(typed)
    assert caught.value.code == "bad_number"


def test_parse_report_in_local_time() -> None:
    """29 October 09:30 in New York is 13:30 UTC; no time given means noon."""
    report = parse_report(" M1 ", "12,345.6", "2026-10-29", "09:30", "America/New_York")
    assert (report.meter_id, report.register_wh, report.read_at.isoformat()) == (
        "M1",
        12_345_600,
        "2026-10-29T09:30:00-04:00",
    )
    noon = parse_report("M1", "1", "2026-11-02", "", "America/New_York")
    assert noon.read_at.isoformat() == "2026-11-02T12:00:00-05:00"
    with pytest.raises(Refused, match="YYYY-MM-DD"):
        parse_report("M1", "1", "29/10/2026", "", "America/New_York")
