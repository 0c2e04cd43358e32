"""Driving the portal in a real browser: Debian's chromium through selenium (chromedriver from
the same package). One chromium per test module (`module_driver`), its cookies cleared and its
window reset before each test (`browser`): starting chromium is the slow part of a browser test.
Screenshots land in .local/artifacts/web/ (kept as CI artefacts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from tests.integration.web.support import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[3] / ".local" / "artifacts" / "web"
DESKTOP = (1100, 1400)
# How long finding an element waits for it (the page may still be rendering: the app answers
# from this test process, slow on a loaded machine). A check that something is NOT on the page
# uses `absent`, which does not wait.
FIND_WAIT_S = 20


@pytest.fixture(scope="module")
def module_driver() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(FIND_WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(module_driver: WebDriver, request: pytest.FixtureRequest) -> Iterator[WebDriver]:
    """The module's chromium with no cookies and a desktop window; the last screen is kept."""
    module_driver.delete_all_cookies()
    module_driver.set_window_size(*DESKTOP)
    try:
        yield module_driver
    finally:
        shot(module_driver, f"{request.node.name}-last")
        module_driver.get("about:blank")
        module_driver.delete_all_cookies()


def shot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def click_through(driver: WebDriver, element: WebElement) -> None:
    """Click something that loads a new page and wait until the old page is gone: an element
    that both pages have (main, a list) would otherwise be read from the old one, or go stale
    between finding and reading it."""
    old_page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(lambda _: gone(old_page))


def absent(driver: WebDriver, by: str, value: str) -> bool:
    """Whether the page shows no such element, asked at once (an implicit wait would spend
    its whole wait on every absence). Check it after something of the same page was found."""
    driver.implicitly_wait(0)
    try:
        return driver.find_elements(by, value) == []
    finally:
        driver.implicitly_wait(FIND_WAIT_S)


def gone(element: WebElement) -> bool:
    """Whether `element` left the document. Besides StaleElementReferenceException (what
    `expected_conditions.staleness_of` waits for), chromium may answer the check with "Node
    with given id does not belong to the document" while the old page is being replaced: gone
    too (staleness_of let that error fail a test on a loaded machine)."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc) or "No node with given id" in str(exc):
            return True
        raise
    return False


def sign_in(driver: WebDriver, base: str, account_id: str, password: str = PASSWORD) -> None:
    driver.get(f"{base}/signin")
    driver.find_element(By.ID, "account_id").send_keys(account_id)
    driver.find_element(By.ID, "password").send_keys(password)
    click_through(driver, driver.find_element(By.ID, "signin"))
    driver.find_element(By.ID, "signout")  # waits until signed in


def sign_out(driver: WebDriver) -> None:
    click_through(driver, driver.find_element(By.ID, "signout"))
    driver.find_element(By.ID, "signin")


def fill(driver: WebDriver, field: str, value: str) -> None:
    """Set an input's value (date and time inputs take keys in the browser's locale)."""
    element = driver.find_element(By.ID, field)
    driver.execute_script("arguments[0].value = arguments[1]", element, value)


def text_of(driver: WebDriver, element_id: str) -> str:
    """An element's text with white space made single."""
    return " ".join(driver.find_element(By.ID, element_id).text.split())
