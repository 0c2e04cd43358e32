"""The reporting window, to the minute, in America/New_York across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from certification.errors import Refused
from certification.window import month_reported_at, require_open_window, window_for

NY = "America/New_York"


def test_october_window_spans_the_dst_change() -> None:
    """October's window: Oct 27 00:00 EDT to Nov 6 00:00 EST (DST ends Nov 1)."""
    opens, closes = window_for("2026-10", NY)
    assert opens.astimezone(UTC) == datetime(2026, 10, 27, 4, tzinfo=UTC)
    assert closes.astimezone(UTC) == datetime(2026, 11, 6, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("utc", "month"),
    [
        (datetime(2026, 10, 27, 3, 59, tzinfo=UTC), None),  # Oct 26 23:59 EDT
        (datetime(2026, 10, 27, 4, 0, tzinfo=UTC), "2026-10"),  # Oct 27 00:00 EDT
        (datetime(2026, 11, 6, 4, 59, tzinfo=UTC), "2026-10"),  # Nov 5 23:59 EST
        (datetime(2026, 11, 6, 5, 0, tzinfo=UTC), None),  # Nov 6 00:00 EST
    ],
)
def test_window_edges_to_the_minute(utc: datetime, month: str | None) -> None:
    """Each edge is inclusive at 00:00 of the 27th and exclusive at 00:00 of the 6th."""
    assert month_reported_at(utc, NY) == month


def test_spring_window_edges() -> None:
    """February's window: Feb 24 00:00 EST to Mar 6 00:00 EST (before DST starts Mar 8)."""
    assert month_reported_at(datetime(2026, 2, 24, 5, 0, tzinfo=UTC), NY) == "2026-02"
    assert month_reported_at(datetime(2026, 2, 24, 4, 59, tzinfo=UTC), NY) is None
    assert month_reported_at(datetime(2026, 3, 6, 4, 59, tzinfo=UTC), NY) == "2026-02"
    assert month_reported_at(datetime(2026, 3, 6, 5, 0, tzinfo=UTC), NY) is None


def test_outside_the_window_the_refusal_says_when_it_opens() -> None:
    """Mid-month, the refusal names the next opening instant."""
    with pytest.raises(Refused) as caught:
        require_open_window(datetime(2026, 11, 15, 12, tzinfo=UTC), NY)
    assert caught.value.code == "outside_reporting_window"
    assert "2026-11-26T00:00:00-05:00" in caught.value.message


def test_local_zone_decides_not_utc() -> None:
    """Nov 6 02:00 UTC is still Nov 5 in New York: inside October's window."""
    local = datetime(2026, 11, 6, 2, tzinfo=UTC).astimezone(ZoneInfo(NY))
    assert local.day == 5
    assert month_reported_at(datetime(2026, 11, 6, 2, tzinfo=UTC), NY) == "2026-10"
