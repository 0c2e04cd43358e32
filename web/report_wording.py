"""What the manual report page tells a homeowner (pure): a refused reading in plain words,
what to do about it and which field it concerns; what an accepted reading adds. Dates are in
the system's local time, numbers in kWh as the meter shows them; never a refusal code (the
rules' own message stays in the write log and the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from certification.errors import Refused
from web.render import kwh, local_date, local_time, month_name, whom_to_ask
from web.views import Earlier, WindowState

__all__ = [
    "Advice",
    "Situation",
    "advise",
    "advise_withdrawal",
    "earned",
    "plain_number",
    "summary",
    "whom_to_ask",
]

REGISTER, DATE, METER = "register_kwh", "read_on", "meter_id"  # the form's fields


@dataclass(frozen=True, slots=True)
class Advice:
    """A refusal as the page says it: `field` is the input it concerns (None: the form)."""

    field: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Situation:
    """What the page knows when it explains a refusal."""

    timezone: str
    capacity_kw_dc: Decimal
    window: WindowState  # as of now: the open one, or the next one
    last: Earlier | None
    entered_wh: int | None  # None: the number could not be read
    entered_at: datetime | None  # None: the date could not be read
    ask: str  # whom to ask, e.g. "PTS staff (help@pts.example)"
    last_correctable: bool = False  # the viewer may still withdraw or correct the last reading


def _window(window: WindowState) -> str:
    tz = window.timezone
    return f"{local_date(window.opens, tz)} to the end of {local_date(window.last_day, tz)}"


def advise(refusal: Refused, s: Situation) -> Advice:
    """The plain sentence for a refused reading, with what to do."""
    tz = s.timezone
    code = refusal.code
    if code == "outside_reporting_window":
        return Advice(
            None,
            "The reporting window is closed now, so no reading can be taken. The next window "
            f"opens on {local_date(s.window.opens, tz)} and stays open until the end of "
            f"{local_date(s.window.last_day, tz)} ({tz} time). Come back then, read the meter "
            "and enter the number it shows.",
        )
    if code == "reading_outside_window":
        return Advice(
            DATE,
            f"The day you read the meter must be inside this month's window "
            f"({_window(s.window)}). Read the meter again today and enter today's date.",
        )
    if code == "reading_in_future" and s.entered_at is not None:
        return Advice(
            DATE,
            f"{local_time(s.entered_at, tz)} is later than now. Enter the date and time you "
            "actually read the meter.",
        )
    if code == "not_after_last_reading" and s.last is not None:
        fix = (
            'choose "This reading is wrong" next to it below'
            if s.last_correctable
            else f"ask {s.ask} to correct it"
        )
        return Advice(
            DATE,
            f"Your last reading was taken {local_time(s.last.ts, tz)}; a new one must be read "
            f"after that. Check the date and time. If that earlier reading was a mistake, {fix}.",
        )
    if code == "register_went_backwards" and s.last is not None and s.entered_wh is not None:
        return Advice(
            REGISTER,
            f"{kwh(s.entered_wh)} kWh is lower than your last reading, "
            f"{kwh(s.last.energy_wh)} kWh on {local_date(s.last.ts, tz)}. The meter's total "
            "only goes up: check that you copied every digit of the total, in kWh (not today's "
            "or this month's figure). "
            + (
                'If your last reading was wrong, choose "This reading is wrong" next to it '
                f"below. If the meter was replaced, ask {s.ask}."
                if s.last_correctable
                else "If the meter was replaced, or your last reading was wrong, ask "
                f"{s.ask} to correct it."
            ),
        )
    if code == "implausible_for_capacity" and s.last is not None and s.entered_wh is not None:
        hours = Decimal((s.entered_at or s.window.opens).timestamp() - s.last.ts.timestamp())
        most_wh = int(s.capacity_kw_dc * 1000 * hours / 3600)
        return Advice(
            REGISTER,
            f"{kwh(s.entered_wh)} kWh would mean {kwh(s.entered_wh - s.last.energy_wh)} kWh "
            f"produced since your last reading ({kwh(s.last.energy_wh)} kWh on "
            f"{local_date(s.last.ts, tz)}), but a system of {plain_number(s.capacity_kw_dc)} "
            f"kW can make at most {kwh(most_wh)} kWh in that time. Check for a typo or a "
            "misplaced decimal point: type the total exactly as the meter shows it, in kWh.",
        )
    if code in ("register_beyond_digits", "register_too_large"):
        return Advice(
            REGISTER,
            "That number is larger than this meter can show. Check the digits and type the "
            "total as the meter shows it, in kWh.",
        )
    if code == "bad_number":
        return Advice(REGISTER, _sentence(refusal.message))
    if code == "instant_withdrawn" and s.entered_at is not None:
        return Advice(
            DATE,
            f"A reading taken {local_time(s.entered_at, tz)} was withdrawn, and PTS keeps one "
            "reading per meter and minute. Enter the time you read the meter again, or, if you "
            "read it then, enter the next minute.",
        )
    if code in ("bad_date", "bad_reading_time"):
        return Advice(DATE, "Enter the date you read the meter (and the time, if you know it).")
    if code in ("meter_not_on_system", "unknown_meter"):
        return Advice(METER, "Choose the meter from the list.")
    if code == "not_the_representative":
        return Advice(
            None,
            "Only the System Representative of this system enters its readings. Ask "
            f"{s.ask} if the Representative should change.",
        )
    return Advice(
        None, f"{_sentence(refusal.message)} If this does not say what to do, ask {s.ask}."
    )


def plain_number(value: Decimal) -> str:
    """8.000 → '8', 0.80 → '0.8', 10 → '10' (never '1E+1')."""
    return format(value.normalize(), "f")


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def advise_withdrawal(refusal: Refused, month: str, ask: str) -> Advice:
    """The plain sentence for a refused withdrawal or correction of a reading of `month`."""
    code = refusal.code
    if code in ("window_closed_for_reading", "month_closed"):
        shut = "reporting window has closed" if code == "window_closed_for_reading" else "is closed"
        return Advice(
            None,
            f"{month_name(month)}'s {shut}, so this reading can no longer be changed here. Ask "
            f"{ask} to correct it: tell them the system, the day of the wrong reading and the "
            "number the meter showed. They record the correction as an amendment.",
        )
    if code == "not_your_reading":
        return Advice(
            None,
            "This reading was entered by someone else, so only PTS staff can withdraw it. "
            f"Ask {ask}.",
        )
    if code == "meter_replacement_reading":
        return Advice(None, f"Readings of a meter replacement are corrected by staff. Ask {ask}.")
    if code == "later_reading_exists":
        return Advice(
            None,
            "A later reading of this meter is recorded. Withdraw that later reading first, then "
            "correct this one.",
        )
    if code == "same_value":
        return Advice(REGISTER, "That is the number already recorded; nothing was changed.")
    if code == "reason_required":
        return Advice("reason", "Say in a few words what went wrong (for example: a typo).")
    if code == "reading_changed":
        return Advice(None, "This reading changed meanwhile. Look at it again below.")
    return Advice(None, f"{_sentence(refusal.message)} If this does not say what to do, ask {ask}.")


# short reasons of the page's list of readings not accepted (by refusal code)
SUMMARIES = {
    "outside_reporting_window": "sent while the reporting window was closed",
    "reading_outside_window": "the day it was read is outside the window",
    "reading_in_future": "the time it was read is later than when it was sent",
    "not_after_last_reading": "not read after the last reading",
    "register_went_backwards": "lower than the last reading",
    "implausible_for_capacity": "more than the system can produce since the last reading",
    "register_beyond_digits": "more than the meter can show",
    "register_too_large": "more than the meter can show",
    "bad_number": "the number could not be read",
    "bad_date": "the date could not be read",
    "bad_reading_time": "the date could not be read",
    "meter_not_on_system": "a meter of another system",
    "not_the_representative": "sent by someone who is not the System Representative",
    "instant_withdrawn": "a withdrawn reading was taken at that time",
}


def summary(code: str, message: str) -> str:
    """Why a reading was not accepted, in a few plain words."""
    return SUMMARIES.get(code) or _sentence(message)


def earned(
    entered_wh: int, earlier: Earlier | None, factor: Decimal, month: str, timezone: str
) -> str:
    """What an accepted reading adds: the kWh since the last one, and how certificates
    follow from it (counted when PTS closes the month)."""
    if earlier is None:
        return (
            "This is the first reading PTS has of this meter: next month's reading will show "
            "how much the system produced in between."
        )
    produced = entered_wh - earlier.energy_wh
    if produced < 0:  # the register wrapped round: the month close counts across it
        return "Your reading is recorded; PTS counts certificates when it closes the month."
    toward = Decimal(produced) / 1_000_000 * factor
    return (
        f"That is {kwh(produced)} kWh produced since your last reading on "
        f"{local_date(earlier.ts, timezone)}, worth about {toward:.3f} certificates (1 "
        f"certificate per 1,000 kWh, times your system's factor {plain_number(factor)}). PTS "
        f"counts certificates when it closes {month_name(month)}, after the window; fractions "
        "carry over to the next month. They appear under Certificates on your system page."
    )
