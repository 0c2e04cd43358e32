"""The reporting window: 5 days before the end of a month to the end of the 5th day of the
next month, in the system's local time (example: January 27 00:00 to February 5 24:00)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from certification.errors import Refused

DAYS_BEFORE = 5
DAYS_AFTER = 5


def in_zone(moment: datetime, timezone: str) -> datetime:
    """An aware instant: an aware `moment` as it is, a naive one read as local time in
    `timezone` (people type local times: a reading, an audit)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(timezone))


def window_for(month: str, timezone: str) -> tuple[datetime, datetime]:
    """[opens, closes) of the window for reporting `YYYY-MM`, as aware local datetimes."""
    tz = ZoneInfo(timezone)
    first = date.fromisoformat(f"{month}-01")
    following = (first + timedelta(days=32)).replace(day=1)
    last_day = following - timedelta(days=1)
    opens = datetime.combine(last_day - timedelta(days=DAYS_BEFORE - 1), time(0), tzinfo=tz)
    closes = datetime.combine(following + timedelta(days=DAYS_AFTER), time(0), tzinfo=tz)
    return opens, closes


def month_reported_at(now: datetime, timezone: str) -> str | None:
    """The month a report made at `now` counts for, or None outside every window."""
    local = now.astimezone(ZoneInfo(timezone))
    this_month = local.strftime("%Y-%m")
    previous = (local.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    for month in (previous, this_month):
        opens, closes = window_for(month, timezone)
        if opens <= local < closes:
            return month
    return None


def require_open_window(now: datetime, timezone: str) -> str:
    """The month being reported, or a refusal that says when the next window opens."""
    month = month_reported_at(now, timezone)
    if month is None:
        local = now.astimezone(ZoneInfo(timezone))
        opens, _ = window_for(local.strftime("%Y-%m"), timezone)
        raise Refused(
            "outside_reporting_window",
            f"reports are accepted from 5 days before month end to the 5th of the next month; "
            f"the next window opens {opens.isoformat()}",
        )
    return month


def require_closable(month: str, now: datetime, timezone: str) -> None:
    """A month closes only once its reporting window has closed in the system's zone."""
    _, closes = window_for(month, timezone)
    if now < closes:
        raise Refused(
            "window_still_open",
            f"{month} can be closed from {closes.isoformat()}, when its reporting window ends",
        )
