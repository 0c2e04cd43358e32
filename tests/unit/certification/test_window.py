"""The reporting window, to the minute, in America/New_York across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certification.errors import Refused
from certification.gis_export import exportable_from, require_exportable
from certification.window import (
    month_reported_at,
    require_closable,
    require_open_window,
    window_for,
)

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


def test_last_second_of_november_fifth_is_inside() -> None:
    """Nov 5 23:59:59 EST is inside October's window (and so is Nov 1 01:30, twice)."""
    assert month_reported_at(datetime(2026, 11, 6, 4, 59, 59, tzinfo=UTC), NY) == "2026-10"
    assert month_reported_at(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), NY) == "2026-10"  # EDT
    assert month_reported_at(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), NY) == "2026-10"  # EST


def test_windows_of_the_year_never_overlap_and_start_five_days_before_month_end() -> None:
    """Each month's window opens on its last day − 4 at 00:00 and closes on the 6th of the next."""
    opens, closes = window_for("2026-02", NY)
    assert (opens.day, closes.month, closes.day) == (24, 3, 6)
    for month in range(1, 12):
        _, closes = window_for(f"2026-{month:02d}", NY)
        following, _ = window_for(f"2026-{month + 1:02d}", NY)
        assert closes < following


def test_a_month_closes_only_after_its_window() -> None:
    """October 2026 can be closed from Nov 6 00:00 EST (05:00 UTC), not a minute before."""
    require_closable("2026-10", datetime(2026, 11, 6, 5, 0, tzinfo=UTC), NY)
    with pytest.raises(Refused) as caught:
        require_closable("2026-10", datetime(2026, 11, 6, 4, 59, tzinfo=UTC), NY)
    assert caught.value.code == "window_still_open"


def test_quarters_export_one_quarter_behind() -> None:
    """2026Q3 is exportable from Oct 6 00:00 EDT; 2026Q4 from Jan 6 2027 00:00 EST."""
    assert exportable_from("2026Q3", NY) == datetime(2026, 10, 6, 4, tzinfo=UTC)
    assert exportable_from("2026Q4", NY) == datetime(2027, 1, 6, 5, tzinfo=UTC)
    require_exportable("2026Q3", datetime(2026, 10, 6, 4, tzinfo=UTC), NY)
    with pytest.raises(Refused) as caught:
        require_exportable("2026Q3", datetime(2026, 10, 6, 3, 59, tzinfo=UTC), NY)
    assert caught.value.code == "quarter_not_over"


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)))
def test_an_instant_belongs_to_the_window_that_contains_it(naive: datetime) -> None:
    """Any instant is reported for month M exactly when M's window contains it."""
    instant = naive.replace(tzinfo=UTC)
    every_month = [f"{y}-{m:02d}" for y in range(2025, 2030) for m in range(1, 13)]
    containing = [m for m in every_month if window_for(m, NY)[0] <= instant < window_for(m, NY)[1]]
    assert month_reported_at(instant, NY) == (containing[0] if containing else None)
    assert len(containing) <= 1
