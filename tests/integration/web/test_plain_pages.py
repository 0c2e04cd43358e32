"""What owners read is plain: the system page says each month-close finding in a sentence
(never its code), the general error page says what happened and whom to ask (the reason code
is for staff and the logs)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from storage import certification_store as cstore
from tests.integration.web.support import ADMIN, OWNER, Clock, make_app, sign_in
from web.finding_wording import SENTENCES

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]

CONTACT = "help@pts.example"
FINDINGS = [
    {"code": "gap", "message": "M1: no readings from 2026-09-03 to 2026-09-09"},
    {"code": "gap", "message": "M1: no readings from 2026-09-20 to 2026-09-24"},
    {"code": "over_capacity", "message": "9100000 Wh exceeds 8 kW DC × 720 h × 0.30"},
]


@pytest.fixture
def helped(seeded_db: str, clock: Clock) -> Iterator[TestClient]:
    with TestClient(
        make_app(seeded_db, clock, web_support_contact=CONTACT), follow_redirects=False
    ) as client:
        yield client


def text(page: Any) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def close_september(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        cstore.save_close(
            conn,
            "S1",
            "2026-09",
            9_100_000,
            False,
            FINDINGS,
            [],
            ADMIN,
            datetime(2026, 10, 6, tzinfo=UTC),
        )


def test_the_owner_reads_each_finding_as_a_sentence(helped: TestClient, seeded_db: str) -> None:
    """Two gaps and an over-capacity: two sentences, no code, no rules' message."""
    close_september(seeded_db)
    sign_in(helped, OWNER)
    page = helped.get("/systems/S1")
    items = [
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", li)).split())
        for li in re.findall(r'<li class="finding">(.*?)</li>', page.text, re.S)
    ]
    assert items == [
        f"September 2026: {SENTENCES['gap']}",
        f"September 2026: {SENTENCES['over_capacity']}",
    ]
    shown = text(page)
    assert "over_capacity" not in shown
    assert "no readings from 2026-09-03" not in shown


def test_staff_read_the_codes_and_messages(helped: TestClient, seeded_db: str) -> None:
    close_september(seeded_db)
    sign_in(helped, ADMIN)
    page = helped.get("/systems/S1")
    assert "<code>over_capacity</code> 9100000 Wh exceeds 8 kW DC" in page.text


def test_the_error_page_says_whom_to_ask_and_no_code(helped: TestClient) -> None:
    """An owner opening a system that is not theirs: a sentence and whom to ask."""
    sign_in(helped, OWNER)
    page = helped.get("/systems/S2")
    assert page.status_code == 404
    shown = text(page)
    assert "No such system, or you hold no role on it." in shown
    assert f"If you need help, ask PTS staff ({CONTACT})." in shown
    assert "Reason code" not in shown
    assert "not_found" not in shown


def test_the_error_page_shows_staff_the_code(helped: TestClient) -> None:
    sign_in(helped, ADMIN)
    page = helped.get("/admin/gis-exports/2026Q2")
    assert page.status_code == 404
    assert "Reason code: <code>not_found</code>." in page.text
