"""A homeowner's month in a real browser, one test per rule they can see: the link an admin
sends, their password, their system, this month's reading (what to read, in what unit), each
refusal said in plain words at the field it concerns, what an accepted reading earned, whom to
ask about a wrong one; the System Owner reads but does not report; a phone-sized window; the
keyboard alone. One chromium for the module (tests/integration/web/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from certification.manual_reports import ManualReport
from certification.workflows.submit_report import submit_manual_report
from tests.integration.web.browser import absent, click_through, fill, shot, sign_in, text_of
from tests.integration.web.support import (
    ADMIN,
    IN_WINDOW,
    OUTSIDE_WINDOW,
    OWNER,
    REP,
    Clock,
    make_app,
    served,
)
from web import accounts
from web import credential_store as store
from web.context import policy_from
from web.report_wording import REGISTER

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]

CONTACT = "help@pts.example, 617-555-0100"
REFUSAL_CODES = ("register_went_backwards", "implausible_for_capacity", "outside_reporting")


@pytest.fixture
def live(seeded_db: str, clock: Clock) -> Iterator[str]:
    with served(make_app(seeded_db, clock, web_support_contact=CONTACT)) as base:
        yield base


def earlier_reading(url: str) -> None:
    """rep-1 reported 12,000.0 kWh on Tuesday 27 October, 09:00 New York time."""
    with psycopg.connect(url, autocommit=True) as conn:
        submit_manual_report(
            conn,
            REP,
            ManualReport("M1", 12_000_000, datetime(2026, 10, 27, 13, tzinfo=UTC)),
            IN_WINDOW,
            Decimal(10),
        )


def link_for(url: str, account_id: str) -> str:
    """The one-time link an admin issues for `account_id` (as the Admin page does)."""
    with psycopg.connect(url, autocommit=True) as conn:
        admin = store.get_account(conn, ADMIN)
        assert admin is not None
        issued = accounts.reset_link(
            conn,
            accounts.as_account(admin),
            account_id,
            IN_WINDOW,
            "test",
            policy_from(make_app(url, Clock(IN_WINDOW)).state.ctx.settings),
        )
    return f"/link/{issued.link_secret}"


def send_reading(browser: WebDriver, base: str, kwh: str, day: str, time: str = "09:30") -> None:
    browser.get(f"{base}/systems/S1/report")
    browser.find_element(By.ID, "register_kwh").send_keys(kwh)
    fill(browser, "read_on", day)
    fill(browser, "read_time", time)
    click_through(browser, browser.find_element(By.ID, "submit-report"))


def assert_linked_to(browser: WebDriver, field: str) -> None:
    """The refusal is tied to the field: marked invalid, described by the refusal's text,
    and the field has the keyboard focus; no refusal code is shown."""
    element = browser.find_element(By.ID, field)
    assert element.get_attribute("aria-invalid") == "true"
    assert "refusal-text" in (element.get_attribute("aria-describedby") or "").split()
    assert browser.switch_to.active_element.get_attribute("id") == field
    page = browser.find_element(By.TAG_NAME, "main").text
    assert not [code for code in REFUSAL_CODES if code in page]


def test_the_link_sets_a_password_and_lands_on_the_system(
    live: str, browser: WebDriver, seeded_db: str
) -> None:
    """The link shows the account id to sign in with; setting the password signs in and
    shows the one system, with a welcome that repeats the account id."""
    browser.get(live + link_for(seeded_db, REP))
    assert "Your account id is rep-1 (Rita Rep)." in text_of(browser, "main-content")
    browser.find_element(By.ID, "password").send_keys("rita's new long password")
    click_through(browser, browser.find_element(By.ID, "set-password"))
    assert browser.current_url == f"{live}/systems/S1?welcome=1"
    assert text_of(browser, "welcome") == (
        "Your password is set and you are signed in as rep-1. Next time, sign in with this "
        "account id and your password."
    )
    shot(browser, "homeowner-welcome")


def test_a_short_password_is_explained_at_the_field(
    live: str, browser: WebDriver, seeded_db: str
) -> None:
    browser.get(live + link_for(seeded_db, REP))
    browser.find_element(By.ID, "password").send_keys("short")
    click_through(browser, browser.find_element(By.ID, "set-password"))
    assert text_of(browser, "refusal") == (
        "Your password was not set. Choose a password of at least 10 characters."
    )
    password = browser.find_element(By.ID, "password")
    assert password.get_attribute("aria-invalid") == "true"
    assert password.get_attribute("aria-describedby") == "refusal-text password-hint"
    assert browser.switch_to.active_element.get_attribute("id") == "password"


def test_a_used_link_says_whom_to_ask(live: str, browser: WebDriver, seeded_db: str) -> None:
    link = live + link_for(seeded_db, REP)
    browser.get(link)
    browser.find_element(By.ID, "password").send_keys("rita's new long password")
    click_through(browser, browser.find_element(By.ID, "set-password"))
    browser.get(link)
    assert browser.find_element(By.TAG_NAME, "h1").text == "This link cannot be used"
    assert text_of(browser, "refusal") == (
        "This link has been used already, has expired or was copied incompletely. Ask PTS "
        f"staff ({CONTACT}) for a new one. If you have set your password already, sign in."
    )


def test_the_form_says_what_to_read_and_in_what_unit(live: str, browser: WebDriver) -> None:
    sign_in(browser, live, REP)
    browser.get(f"{live}/systems/S1/report")
    help_text = text_of(browser, "what-to-read")
    assert help_text.startswith(
        "What to read. Use the production meter of your solar system (serial X1): the meter "
        "installed for the solar panels, not the inverter's display"
    )
    assert "the total energy produced since it was installed, in kWh (kilowatt-hours)" in help_text
    assert "Do not subtract last month's number: PTS does that." in help_text
    for field in ("meter_id", "register_kwh", "read_on", "read_time"):  # every input labelled
        assert browser.find_elements(By.CSS_SELECTOR, f"label[for='{field}']")
    register = browser.find_element(By.ID, "register_kwh")
    assert register.get_attribute("aria-describedby") == "what-to-read"
    shot(browser, "homeowner-form")


def test_an_accepted_reading_says_what_it_earned(
    live: str, browser: WebDriver, seeded_db: str
) -> None:
    """12,345.6 kWh after 12,000.0: 345.6 kWh, worth about 0.346 certificates at factor 1."""
    earlier_reading(seeded_db)
    sign_in(browser, live, REP)
    send_reading(browser, live, "12345.6", "2026-10-29")
    assert text_of(browser, "accepted").startswith(
        "Thank you. Your reading of 12,345.6 kWh taken Thu 29 Oct 2026, 09:30 EDT is recorded "
        "for October 2026."
    )
    assert text_of(browser, "earned") == (
        "That is 345.6 kWh produced since your last reading on Tuesday 27 October 2026, worth "
        "about 0.346 certificates (1 certificate per 1,000 kWh, times your system's factor 1). "
        "PTS counts certificates when it closes October 2026, after the window; fractions carry "
        "over to the next month. They appear under Certificates on your system page."
    )
    shot(browser, "homeowner-accepted")


def test_a_lower_reading_is_refused_in_plain_words(
    live: str, browser: WebDriver, seeded_db: str
) -> None:
    earlier_reading(seeded_db)
    sign_in(browser, live, REP)
    send_reading(browser, live, "1200", "2026-10-29")
    assert text_of(browser, "refusal") == (
        "Your reading was not accepted. 1,200.0 kWh is lower than your last reading, 12,000.0 "
        "kWh on Tuesday 27 October 2026. The meter's total only goes up: check that you copied "
        "every digit of the total, in kWh (not today's or this month's figure). If your last "
        'reading was wrong, choose "This reading is wrong" next to it below. If the meter was '
        f"replaced, ask PTS staff ({CONTACT})."
    )
    assert_linked_to(browser, REGISTER)
    assert browser.find_element(By.ID, "register_kwh").get_attribute("value") == "1200"
    shot(browser, "homeowner-lower")


def test_an_implausible_jump_is_refused_with_what_the_system_can_make(
    live: str, browser: WebDriver, seeded_db: str
) -> None:
    """From 27 October 09:00 to 29 October 09:30 is 48.5 h: 8 kW make at most 388.0 kWh."""
    earlier_reading(seeded_db)
    sign_in(browser, live, REP)
    send_reading(browser, live, "20000", "2026-10-29")
    assert text_of(browser, "refusal") == (
        "Your reading was not accepted. 20,000.0 kWh would mean 8,000.0 kWh produced since "
        "your last reading (12,000.0 kWh on Tuesday 27 October 2026), but a system of 8 kW "
        "can make at most 388.0 kWh in that time. Check for a typo or a misplaced decimal "
        "point: type the total exactly as the meter shows it, in kWh."
    )
    assert_linked_to(browser, REGISTER)


def test_outside_the_window_no_form_is_offered_and_it_says_when_the_next_one_opens(
    live: str, browser: WebDriver, clock: Clock
) -> None:
    clock.now = OUTSIDE_WINDOW
    sign_in(browser, live, REP)
    browser.get(f"{live}/systems/S1/report")
    assert text_of(browser, "window") == (
        "The reporting window is closed. The next one opens on Thursday 26 November 2026 and "
        "closes at the end of Saturday 05 December 2026 (America/New_York time). Come back "
        "then to report."
    )
    assert absent(browser, By.ID, "report-form")
    assert absent(browser, By.ID, "register_kwh")


def test_a_day_before_the_window_is_refused_at_the_date(live: str, browser: WebDriver) -> None:
    sign_in(browser, live, REP)
    send_reading(browser, live, "12500", "2026-10-20")
    assert text_of(browser, "refusal") == (
        "Your reading was not accepted. The day you read the meter must be inside this month's "
        "window (Tuesday 27 October 2026 to the end of Thursday 05 November 2026). Read the "
        "meter again today and enter today's date."
    )
    assert_linked_to(browser, "read_on")


def test_the_page_says_whom_to_ask_about_a_wrong_reading(live: str, browser: WebDriver) -> None:
    sign_in(browser, live, REP)
    browser.get(f"{live}/systems/S1/report")
    assert text_of(browser, "correct") == (
        'While the reporting window of its month is open, choose "This reading is wrong" next '
        "to the reading below and type the number the meter showed: PTS counts that one "
        "instead, and keeps the wrong one in the record, marked as withdrawn. Once the window "
        f"has closed, ask PTS staff ({CONTACT}) to correct it: tell them the system (S1), the "
        "day of the wrong reading and the number the meter showed. They record the correction "
        "with its reason, and the month then shows as amended on your system page."
    )


def test_the_system_owner_sees_the_readings_but_no_report_form(
    live: str, browser: WebDriver
) -> None:
    sign_in(browser, live, OWNER)
    assert "The System Representative, rep-1, reports the readings (see them)." in text_of(
        browser, "window"
    )
    click_through(browser, browser.find_element(By.LINK_TEXT, "see them"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Meter readings"
    assert text_of(browser, "who-reports") == (
        "Rita Rep (rep-1), the System Representative, enters the readings of this system. You "
        "can see them here."
    )
    assert absent(browser, By.ID, "report-form")
    shot(browser, "owner-readings")


def test_a_report_sent_by_the_owner_is_refused_with_a_clear_page(
    live: str, browser: WebDriver, seeded_db: str
) -> None:
    """The owner sends the form anyway (built in the page, with the session's CSRF token)."""
    sign_in(browser, live, OWNER)
    browser.get(f"{live}/systems/S1/report")
    browser.execute_script(
        """const form = document.createElement('form');
        form.method = 'post'; form.action = '/systems/S1/report';
        const token = document.querySelector('input[name=csrf_token]').value;
        for (const [name, value] of [['csrf_token', token], ['meter_id', 'M1'],
             ['register_kwh', '12345'], ['read_on', '2026-10-29']]) {
          const input = document.createElement('input');
          input.name = name; input.value = value; form.appendChild(input);
        }
        form.id = 'forged'; document.body.appendChild(form);"""
    )
    old = browser.find_element(By.TAG_NAME, "html")
    browser.execute_script("document.getElementById('forged').submit()")
    WebDriverWait(browser, 30).until(lambda _: old != browser.find_element(By.TAG_NAME, "html"))
    assert text_of(browser, "refusal") == (
        "Your reading was not recorded. Only the System Representative, Rita Rep (rep-1), "
        "enters the readings of Maple Street roof. You can see the readings and certificates "
        "here. To change who reports, ask for a new System Representative on the system page, "
        f"or ask PTS staff ({CONTACT})."
    )
    with psycopg.connect(seeded_db) as conn:
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert stored == (0,)
    shot(browser, "owner-post-refused")


def test_the_pages_fit_a_phone(live: str, browser: WebDriver) -> None:
    """At 390 CSS pixels wide nothing scrolls sideways but the tables' own boxes."""
    browser.set_window_size(390, 844)
    sign_in(browser, live, REP)
    for path in ("/systems/S1", "/systems/S1/report", "/account"):
        browser.get(live + path)
        widths = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1], path
    browser.get(f"{live}/systems/S1/report")
    box = browser.find_element(By.ID, "register_kwh").rect
    assert box["x"] + box["width"] <= 390
    shot(browser, "homeowner-phone")


def test_the_report_can_be_sent_with_the_keyboard_alone(live: str, browser: WebDriver) -> None:
    """Tab from the top reaches the fields in reading order, then the button; the date is
    typed; Enter sends it."""
    sign_in(browser, live, REP)
    browser.get(f"{live}/systems/S1/report")
    order: list[str] = []  # ids in the order Tab reaches them (a date's parts count once)
    for _ in range(25):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        reached = browser.switch_to.active_element.get_attribute("id") or ""
        if not order or order[-1] != reached:
            order.append(reached)
        if reached == "submit-report":
            break
    fields = [f for f in order if f in ("meter_id", "register_kwh", "read_on", "read_time")]
    assert fields == ["meter_id", "register_kwh", "read_on", "read_time"]
    assert order[-1] == "submit-report"
    register = browser.find_element(By.ID, "register_kwh")
    register.send_keys("12345.6")
    register.send_keys(Keys.TAB)
    browser.switch_to.active_element.send_keys("10292026")  # the date, in en-US order
    assert browser.find_element(By.ID, "read_on").get_attribute("value") == "2026-10-29"
    old = browser.find_element(By.TAG_NAME, "html")
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(browser, 30).until(lambda _: old != browser.find_element(By.TAG_NAME, "html"))
    assert text_of(browser, "accepted").startswith("Thank you. Your reading of 12,345.6 kWh")


def tab_to(browser: WebDriver, element_id: str, most: int = 60) -> list[str]:
    """Press Tab until `element_id` has the focus; the ids reached on the way."""
    reached: list[str] = []
    for _ in range(most):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        reached.append(browser.switch_to.active_element.get_attribute("id") or "")
        if reached[-1] == element_id:
            return reached
    raise AssertionError(f"Tab never reached {element_id}: {reached}")


def test_a_wrong_reading_is_corrected_with_the_keyboard_alone(
    live: str, browser: WebDriver, seeded_db: str
) -> None:
    """12,345.6 sent where the meter showed 12,245.6: from the thank-you note, Tab reaches
    "This reading is wrong", Enter opens it, the right number is typed, Enter replaces it;
    the page confirms both numbers and lists the withdrawn one."""
    earlier_reading(seeded_db)
    sign_in(browser, live, REP)
    send_reading(browser, live, "12345.6", "2026-10-29")
    browser.find_element(By.TAG_NAME, "body").click()  # start tabbing from the page's top
    tab_to(browser, "wrong-accepted-open")
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    reached = tab_to(browser, "wrong-accepted-kwh", 3)
    assert reached == ["wrong-accepted-kwh"]  # the first field right after the summary
    browser.switch_to.active_element.send_keys("12245.6")
    assert tab_to(browser, "wrong-accepted-correct", 3) == [
        "wrong-accepted-reason",
        "wrong-accepted-correct",
    ]
    old = browser.find_element(By.TAG_NAME, "html")
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(browser, 30).until(lambda _: old != browser.find_element(By.TAG_NAME, "html"))
    assert text_of(browser, "withdrawn") == (
        "Corrected. Your reading taken Thu 29 Oct 2026, 09:30 EDT was 12,345.6 kWh; it is now "
        "12,245.6 kWh. PTS counts October 2026 from 12,245.6 kWh. The wrong number stays in the "
        "record, marked as withdrawn with your reason."
    )
    assert "Thu 29 Oct 2026, 09:30 EDT M1 12,345.6 12,245.6 typing mistake rep-1" in text_of(
        browser, "withdrawals"
    )
    shot(browser, "homeowner-corrected")


def test_the_correction_fits_a_phone(live: str, browser: WebDriver, seeded_db: str) -> None:
    """At 390 CSS pixels wide the opened correction form does not scroll sideways."""
    earlier_reading(seeded_db)
    browser.set_window_size(390, 844)
    sign_in(browser, live, REP)
    send_reading(browser, live, "12345.6", "2026-10-29")
    browser.find_element(By.ID, "wrong-accepted-open").click()
    field = browser.find_element(By.ID, "wrong-accepted-kwh")
    assert field.is_displayed()
    widths = browser.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert widths[0] <= widths[1]
    box = field.rect
    assert box["x"] + box["width"] <= 390
    button = browser.find_element(By.ID, "wrong-accepted-correct").rect
    assert button["x"] + button["width"] <= 390
    shot(browser, "homeowner-correct-phone")
