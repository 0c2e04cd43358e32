"""The portal in a real browser: Debian's chromium driven by selenium (chromedriver from the
same package), against the app served by a real uvicorn on a free loopback port and the real
PostgreSQL. Screenshots land in .local/artifacts/web/ (kept as CI artefacts)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from storage import certification_store
from tests.integration.web.browser import (
    absent,
    click_through,
    fill,
    shot,
    sign_in,
    sign_out,
)
from tests.integration.web.support import (
    ADMIN,
    OUTSIDE_WINDOW,
    OWNER,
    REC_OWNER,
    REP,
    Clock,
    close_and_credit,
    make_app,
    served,
)

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]


@pytest.fixture
def live(seeded_db: str, clock: Clock) -> Iterator[str]:
    with served(make_app(seeded_db, clock)) as base:
        yield base


def test_representative_reports_and_is_refused_outside_the_window(
    live: str, browser: WebDriver, clock: Clock, seeded_db: str
) -> None:
    """rep-1 signs in, sees the open window and the chart, reports a reading, and two weeks
    later is refused with the reason and the next window's date on the page."""
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        certification_store.save_close(
            conn, "S1", "2026-09", 812_345, False, [], [], ADMIN, datetime(2026, 10, 6, tzinfo=UTC)
        )
    sign_in(browser, live, REP)
    assert browser.current_url == f"{live}/systems/S1"  # one system: straight to it
    window = browser.find_element(By.ID, "window").text
    assert (
        "The reporting window for October 2026 is open until the end of Thursday 05 November 2026"
        in window
    )
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    assert [b.get_attribute("data-month") for b in bars] == ["2026-09"]
    assert "812.3" in browser.find_element(By.ID, "monthly").text
    shot(browser, "rep-system-page")
    click_through(browser, browser.find_element(By.LINK_TEXT, "Report this month's reading"))
    assert "The window is open for October 2026" in browser.find_element(By.ID, "window").text
    browser.find_element(By.ID, "register_kwh").send_keys("12345.6")
    fill(browser, "read_on", "2026-10-29")
    fill(browser, "read_time", "09:30")
    click_through(browser, browser.find_element(By.ID, "submit-report"))
    accepted = browser.find_element(By.ID, "accepted").text
    assert accepted.startswith(
        "Thank you. Your reading of 12,345.6 kWh taken Thu 29 Oct 2026, 09:30 EDT"
    )
    shot(browser, "rep-report-accepted")

    clock.now = OUTSIDE_WINDOW  # two weeks later: the session has ended, sign in again
    sign_in(browser, live, REP)
    browser.get(f"{live}/systems/S1/report")
    assert (
        "The next one opens on Thursday 26 November 2026"
        in browser.find_element(By.ID, "window").text
    )
    assert absent(browser, By.ID, "report-form")  # no form while it is closed
    shot(browser, "rep-report-window-closed")


def test_owner_cannot_open_another_owners_system(live: str, browser: WebDriver) -> None:
    sign_in(browser, live, OWNER)
    browser.get(f"{live}/systems/S2")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert (
        browser.find_element(By.ID, "refusal").text == "No such system, or you hold no role on it."
    )
    assert "Oak Avenue" not in browser.page_source
    shot(browser, "owner-other-system")


def test_admin_approves_a_rec_owner_change(live: str, browser: WebDriver) -> None:
    """buyer-9 asks to hand the certificates of S1 to buyer-10; the admin approves it."""
    sign_in(browser, live, REC_OWNER)
    browser.get(f"{live}/systems/S1")
    browser.find_element(By.ID, "new_rec_owner_id").send_keys("buyer-10")
    browser.find_element(By.ID, "transfer_contract").send_keys("contract-7.pdf")
    click_through(
        browser, browser.find_element(By.XPATH, "//button[text()='Send the request to PTS staff']")
    )
    assert ": new REC Owner buyer-10: open" in browser.find_element(By.TAG_NAME, "main").text
    sign_out(browser)

    sign_in(browser, live, ADMIN)
    browser.get(f"{live}/admin")
    queue = browser.find_element(By.ID, "change-requests").text
    assert "S1" in queue
    assert "buyer-10 contract-7.pdf" in queue
    shot(browser, "admin-queue")
    click_through(browser, browser.find_element(By.CSS_SELECTOR, "button[id^='approve-']"))
    assert "No open requests." in browser.find_element(By.ID, "change-requests").text
    browser.get(f"{live}/systems/S1")
    assert "The REC Owner is buyer-10." in browser.find_element(By.TAG_NAME, "main").text
    shot(browser, "admin-approved")


def test_admin_exports_a_quarter_and_downloads_the_gis_file(
    live: str, browser: WebDriver, seeded_db: str, tmp_path: Path
) -> None:
    """The admin exports 2026Q3 (recorded once) and downloads its upload file: exactly the
    lines unitID,MM/YYYY,MWh of S1, the one system with REC terms accepted."""
    closed = datetime(2026, 10, 6, tzinfo=UTC)
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        for month, wh in (("2026-07", 1_000_000), ("2026-08", 1_234_567), ("2026-09", 812_345)):
            close_and_credit(conn, "S1", month, wh, closed)
    browser.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    sign_in(browser, live, ADMIN)
    browser.get(f"{live}/admin")
    browser.find_element(By.ID, "export_quarter").send_keys("2026Q3")
    click_through(browser, browser.find_element(By.ID, "export-quarter"))
    assert "2026Q3 is exported." in browser.find_element(By.ID, "exported").text
    assert "2026Q3 staff" in browser.find_element(By.ID, "exports").text
    shot(browser, "admin-gis-exported")
    browser.find_element(By.ID, "download-2026Q3").click()  # a download: the page stays
    target = tmp_path / "gis-2026Q3.csv"
    WebDriverWait(browser, 30).until(lambda _: target.exists())
    assert target.read_text() == "NON1,07/2026,1.000\nNON1,08/2026,1.235\nNON1,09/2026,0.812\n"
    browser.find_element(By.ID, "export_quarter").send_keys("2026Q3")
    click_through(browser, browser.find_element(By.ID, "export-quarter"))
    assert browser.find_element(By.ID, "refusal").text == "2026Q3 was exported; amend to adjust it."
    assert "Reason code: already_exported." in browser.find_element(By.TAG_NAME, "main").text


def test_owner_asks_for_a_new_representative_and_the_admin_approves(
    live: str, browser: WebDriver
) -> None:
    """owner-1 asks for rep-2 as S1's System Representative; the admin approves it in the
    queue; S1's page then names rep-2."""
    sign_in(browser, live, OWNER)
    browser.get(f"{live}/systems/S1")
    Select(browser.find_element(By.ID, "kind")).select_by_value("representative")
    browser.find_element(By.ID, "new_party_id").send_keys("rep-2")
    click_through(browser, browser.find_element(By.ID, "send-party-change"))
    assert ": new System Representative rep-2: open" in browser.find_element(By.ID, "requests").text
    shot(browser, "owner-representative-request")
    sign_out(browser)

    sign_in(browser, live, ADMIN)
    browser.get(f"{live}/admin")
    queue = browser.find_element(By.ID, "change-requests").text
    assert "S1" in queue
    assert "representative rep-2" in queue
    click_through(browser, browser.find_element(By.CSS_SELECTOR, "button[id^='approve-']"))
    assert "No open requests." in browser.find_element(By.ID, "change-requests").text
    browser.get(f"{live}/systems/S1")
    assert "The System Representative is rep-2." in browser.find_element(By.ID, "parties").text
    shot(browser, "admin-approved-representative")
