"""Manual reports through the portal and the API: the window in local time, the refusal and
its reason on the page and in the write log, the accepted reading stored."""

from __future__ import annotations

import html
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.integration.web.support import OUTSIDE_WINDOW, OWNER, REP, Clock, csrf_of, sign_in
from web import read_store

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]


def report(client: TestClient, kwh: str, day: str, time: str = "09:30") -> Any:
    page = client.get("/systems/S1/report")
    return client.post(
        "/systems/S1/report",
        data={
            "meter_id": "M1",
            "register_kwh": kwh,
            "read_on": day,
            "read_time": time,
            "csrf_token": csrf_of(page.text),
        },
    )


def plain(page: Any) -> str:
    """A page's HTML as the eye reads its text: entities decoded, white space single."""
    return " ".join(html.unescape(page.text).split())


def test_form_shows_the_open_window_in_local_time(client: TestClient) -> None:
    """On 30 October 2026 the October window is open until the end of 5 November (New York)."""
    sign_in(client, REP)
    page = client.get("/systems/S1/report")
    assert page.status_code == 200
    assert "The window is open" in page.text
    assert "from Tuesday 27 October 2026" in page.text
    assert "to the end of <strong>Thursday 05 November 2026</strong>" in page.text


def test_form_shows_when_the_next_window_opens(client: TestClient, clock: Clock) -> None:
    clock.now = OUTSIDE_WINDOW
    sign_in(client, REP)
    page = client.get("/systems/S1/report")
    assert "The reporting window is closed." in page.text
    assert "<strong>Thursday 26 November 2026</strong>" in page.text


def test_reading_accepted_then_a_lower_one_refused(client: TestClient, seeded_db: str) -> None:
    """12,345.6 kWh read on 29 October 09:30 local is stored as 12,345,600 Wh at 13:30 UTC;
    a lower one is refused with its reason on the page and in the write log."""
    sign_in(client, REP)
    accepted = report(client, "12,345.6", "2026-10-29")
    assert accepted.status_code == 200
    assert "Thank you. Your reading of 12,345.6 kWh" in accepted.text
    assert "recorded for October 2026" in accepted.text
    refused = report(client, "12000", "2026-10-30", "08:00")
    assert refused.status_code == 422
    assert "Your reading was not accepted." in refused.text
    assert (
        "12,000.0 kWh is lower than your last reading, 12,345.6 kWh on Thursday 29 October "
        "2026. The meter's total only goes up" in plain(refused)
    )
    assert "register_went_backwards" not in refused.text  # no code on the page
    with psycopg.connect(seeded_db) as conn:
        rows = read_store.readings(conn, "S1", None, None, None, 10)
        writes = read_store.recent_writes(conn, 10)
    assert [(r.meter_id, r.ts.isoformat(), r.energy_wh, r.source) for r in rows] == [
        ("M1", "2026-10-29T13:30:00+00:00", 12_345_600, "manual")
    ]
    assert [(w.account_id, w.action, w.target, w.outcome) for w in writes] == [
        (REP, "manual_report", "S1", "register_went_backwards"),
        (REP, "manual_report", "S1", "done"),
    ]
    again = client.get("/systems/S1/report")
    assert "12,345.6" in again.text  # the last three months' readings
    assert "lower than the last reading" in again.text  # and the refusals, with their reason


def test_outside_the_window_the_reason_says_when_to_come_back(
    client: TestClient, clock: Clock
) -> None:
    clock.now = OUTSIDE_WINDOW
    sign_in(client, REP)
    refused = report(client, "12345", "2026-11-14")
    assert refused.status_code == 422
    assert (
        "The next window opens on Thursday 26 November 2026 and stays open until the end of "
        "Saturday 05 December 2026 (America/New_York time)." in plain(refused)
    )
    assert "outside_reporting_window" not in refused.text


def test_an_owner_is_not_the_representative(client: TestClient, seeded_db: str) -> None:
    """The owner is not offered the form, and a report sent anyway is refused (403) with a
    page that says who reports; the write log records the refusal."""
    sign_in(client, OWNER)
    assert 'id="report-form"' not in client.get("/systems/S1/report").text
    refused = report(client, "12345", "2026-10-29")
    assert refused.status_code == 403
    assert (
        "Only the System Representative, Rita Rep (rep-1), enters the readings of Maple Street "
        "roof." in plain(refused)
    )
    assert 'id="report-form"' not in refused.text
    with psycopg.connect(seeded_db) as conn:
        writes = read_store.recent_writes(conn, 1)
        assert read_store.readings(conn, "S1", None, None, None, 1) == []
    assert [(w.account_id, w.outcome) for w in writes] == [(OWNER, "not_the_representative")]


def test_api_manual_report(client: TestClient, clock: Clock, seeded_db: str) -> None:
    """The API takes the register in Wh with an aware time; refusals are {code, message}."""
    from web.accounts import as_account, create_token
    from web.credential_store import get_account

    with psycopg.connect(seeded_db, autocommit=True) as conn:
        row = get_account(conn, REP)
        assert row is not None
        _, token = create_token(conn, as_account(row), "script", clock(), "test")
    auth = {"authorization": f"Bearer {token}"}
    body = {"meter_id": "M1", "register_wh": 7_000_000, "read_at": "2026-10-29T14:00:00Z"}
    made = client.post("/api/v1/systems/S1/manual-reports", json=body, headers=auth)
    assert made.status_code == 201
    assert made.json() == {
        "meter_id": "M1",
        "ts": "2026-10-29T14:00:00Z",
        "energy_wh": 7_000_000,
        "source": "manual",
        "flags": [],
        "event": None,
    }
    again = client.post("/api/v1/systems/S1/manual-reports", json=body, headers=auth)
    assert again.status_code == 422
    assert again.json()["code"] == "not_after_last_reading"
    window = client.get("/api/v1/systems/S1/window", headers=auth).json()
    assert window == {
        "timezone": "America/New_York",
        "is_open": True,
        "month": "2026-10",
        "opens": "2026-10-27T00:00:00-04:00",
        "closes": "2026-11-06T00:00:00-05:00",
    }
    page = client.get("/api/v1/systems/S1/readings?limit=1", headers=auth).json()
    assert page["items"][0]["energy_wh"] == 7_000_000
    assert page["next_before"] is None


def test_api_daily_production(client: TestClient, clock: Clock, seeded_db: str) -> None:
    """Days of the asked local month only, as the stream stored them."""
    from web.accounts import as_account, create_token
    from web.credential_store import get_account

    with psycopg.connect(seeded_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO meter_day_energy (meter_id, day, energy_wh, intervals) VALUES "
            "('M1', '2026-09-30', 29000, 24), ('M1', '2026-10-01', 30000, 24), "
            "('M1', '2026-10-02', 31000, 24)"
        )
        row = get_account(conn, OWNER)
        assert row is not None
        _, token = create_token(conn, as_account(row), "script", clock(), "test")
    days = client.get(
        "/api/v1/systems/S1/production/daily?month=2026-10",
        headers={"authorization": f"Bearer {token}"},
    )
    assert days.json() == [
        {"day": "2026-10-01", "energy_wh": 30000},
        {"day": "2026-10-02", "energy_wh": 31000},
    ]


def test_my_systems_shows_each_window(client: TestClient) -> None:
    """An admin's list shows each manual system's window in its own zone."""
    from tests.integration.web.support import ADMIN

    sign_in(client, ADMIN)
    page = client.get("/")
    assert page.status_code == 200
    assert page.text.count("open for 2026-10</a> until the end of Thursday 05 November 2026") == 2


def test_a_das_provider_sees_its_system_and_reports_through_das(
    client: TestClient, clock: Clock, seeded_db: str
) -> None:
    """sunny reads S3, which it reports; a manual report there is refused: S3 reports
    automatically."""
    from web.accounts import as_account, create_token
    from web.credential_store import get_account

    with psycopg.connect(seeded_db, autocommit=True) as conn:
        row = get_account(conn, "sunny")
        assert row is not None
        _, token = create_token(conn, as_account(row), "das", clock(), "test")
    auth = {"authorization": f"Bearer {token}"}
    mine = client.get("/api/v1/systems", headers=auth).json()
    assert [(s["system_id"], s["roles"]) for s in mine] == [
        ("S3", ["das_provider", "system_representative"])
    ]
    body = {"meter_id": "M3", "register_wh": 1_000, "read_at": "2026-10-29T14:00:00Z"}
    refused = client.post("/api/v1/systems/S3/manual-reports", json=body, headers=auth)
    assert refused.status_code == 422
    assert refused.json()["code"] == "reports_automatically"
