"""The report page's words (pure): refusals in plain words at their field, what a reading
earned; never a refusal code."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from certification.errors import Refused
from web.render import month_name
from web.report_wording import Situation, advise, earned, plain_number, summary, whom_to_ask
from web.views import Earlier, WindowState

TZ = "America/New_York"
OPEN = WindowState(
    TZ,
    "2026-10",
    datetime(2026, 10, 27, 4, tzinfo=UTC),
    datetime(2026, 11, 6, 5, tzinfo=UTC),
)
LAST = Earlier(datetime(2026, 10, 27, 13, tzinfo=UTC), 12_000_000)


def situation(entered_wh: int | None = None, entered_at: datetime | None = None) -> Situation:
    return Situation(TZ, Decimal("8.000"), OPEN, LAST, entered_wh, entered_at, whom_to_ask(""))


def test_plain_numbers() -> None:
    assert [plain_number(Decimal(v)) for v in ("8.000", "0.80", "10", "1E+1")] == [
        "8",
        "0.8",
        "10",
        "10",
    ]


def test_a_time_before_the_last_reading_points_at_the_date() -> None:
    advice = advise(Refused("not_after_last_reading", "…"), situation())
    assert (advice.field, advice.text) == (
        "read_on",
        "Your last reading was taken Tue 27 Oct 2026, 09:00 EDT; a new one must be read after "
        "that. Check the date and time. If that earlier reading was a mistake, ask PTS staff "
        "to correct it.",
    )


def test_an_unknown_refusal_keeps_the_rules_message_and_says_whom_to_ask() -> None:
    advice = advise(Refused("month_closed", "2026-10 is closed"), situation())
    assert (advice.field, advice.text) == (
        None,
        "2026-10 is closed. If this does not say what to do, ask PTS staff.",
    )


def test_summaries_are_words_not_codes() -> None:
    assert summary("register_went_backwards", "x") == "lower than the last reading"
    assert summary("something_new", "the rules said no") == "The rules said no."


def test_the_first_reading_earns_nothing_yet() -> None:
    assert earned(5_000, None, Decimal(1), "2026-10", TZ).startswith(
        "This is the first reading PTS has of this meter"
    )


def test_what_a_reading_earned_at_a_factor() -> None:
    """1,500.0 kWh at factor 0.8: 1.200 certificates' worth."""
    assert earned(13_500_000, LAST, Decimal("0.8000"), "2026-10", TZ).startswith(
        "That is 1,500.0 kWh produced since your last reading on Tuesday 27 October 2026, "
        "worth about 1.200 certificates (1 certificate per 1,000 kWh, times your system's "
        "factor 0.8)."
    )


def test_months_are_named() -> None:
    assert [month_name(m) for m in ("2026-10", "", "Q3")] == ["October 2026", "", "Q3"]
