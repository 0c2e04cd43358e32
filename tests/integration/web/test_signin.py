"""Sign-in, sessions and their security properties against the real PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from tests.integration.web.support import (
    OWNER,
    PASSWORD,
    REP,
    Clock,
    csrf_of,
    make_app,
    sign_in,
)
from web import credential_store

# the web layer reads and writes the same in both storage modes (test_migration runs both)
pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]


def events(url: str, subject: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [(e.tag, e.address) for e in credential_store.events_of(conn, subject)][::-1]


def test_sign_in_sets_a_protected_session_cookie(client: TestClient, seeded_db: str) -> None:
    """The session cookie is HttpOnly, SameSite=Lax, path /; the success is an event."""
    answer = sign_in(client, OWNER)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("pts_session="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags
    assert events(seeded_db, OWNER) == [("signin_succeeded", "testclient")]
    assert client.get("/systems/S1").status_code == 200


def test_secure_cookie_when_configured(seeded_db: str, clock: Clock) -> None:
    """PTS_WEB_COOKIE_SECURE=true marks the session cookie Secure."""
    app = make_app(seeded_db, clock, web_cookie_secure=True)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        answer = sign_in(client, OWNER)
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("pts_session="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_wrong_password_is_refused_and_recorded(client: TestClient, seeded_db: str) -> None:
    """A wrong password: 401 with the reason on the page, a failure event with the address."""
    answer = sign_in(client, OWNER, "not the password")
    assert answer.status_code == 401
    assert "The account id or the password is wrong" in answer.text
    unknown = sign_in(client, "nobody", "whatever-123")
    assert unknown.status_code == 401
    assert events(seeded_db, OWNER) == [("signin_failed", "testclient")]
    assert events(seeded_db, "nobody") == [("signin_failed", "testclient")]


def test_sign_in_is_throttled_per_account(client: TestClient, seeded_db: str) -> None:
    """After 5 failures in 15 minutes even the right password is refused (429) until the
    window has passed."""
    for _ in range(5):
        assert sign_in(client, OWNER, "wrong-password").status_code == 401
    throttled = sign_in(client, OWNER)
    assert throttled.status_code == 429
    assert "Too many failed sign-ins for this account" in throttled.text
    assert events(seeded_db, OWNER)[-1] == ("signin_throttled", "testclient")
    assert sign_in(client, REP).status_code == 303  # another account is not affected


def test_sign_in_is_throttled_per_address(seeded_db: str, clock: Clock) -> None:
    """Failures spread over many account ids from one address are throttled too."""
    app = make_app(seeded_db, clock, web_signin_max_failures_per_address=3)
    with TestClient(app, follow_redirects=False) as client:
        for name in ("a1", "a2", "a3"):
            assert sign_in(client, name, "wrong-password").status_code == 401
        answer = sign_in(client, OWNER)
    assert answer.status_code == 429
    assert "Too many failed sign-ins from your address" in answer.text


def test_throttling_ends_with_the_window(client: TestClient, clock: Clock) -> None:
    """16 minutes after the fifth failure the right password works again."""
    for _ in range(5):
        sign_in(client, OWNER, "wrong-password")
    clock.now += timedelta(minutes=16)
    assert sign_in(client, OWNER).status_code == 303


def test_sign_in_form_without_csrf_is_refused(client: TestClient, seeded_db: str) -> None:
    """No CSRF field (or a wrong one) → 403 csrf_failed, and no session."""
    client.get("/signin")
    missing = client.post("/signin", data={"account_id": OWNER, "password": PASSWORD})
    assert missing.status_code == 403
    assert "This form has expired or did not come from PTS; reload the page" in missing.text
    assert "csrf_failed" not in missing.text  # the code is for staff and the write log
    wrong = client.post(
        "/signin", data={"account_id": OWNER, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert wrong.status_code == 403
    assert events(seeded_db, OWNER) == []


def test_signed_in_form_without_csrf_is_refused(client: TestClient) -> None:
    """A signed-in POST without the session's CSRF token changes nothing."""
    sign_in(client, OWNER)
    answer = client.post("/account/tokens", data={"label": "x"})
    assert answer.status_code == 403
    assert "This form has expired or did not come from PTS; reload the page" in answer.text
    assert "pts_" not in answer.text


def test_session_expires(client: TestClient, clock: Clock) -> None:
    """After 12 hours the session no longer signs the browser in."""
    sign_in(client, OWNER)
    clock.now += timedelta(hours=11, minutes=59)
    assert client.get("/systems/S1").status_code == 200
    clock.now += timedelta(minutes=2)
    answer = client.get("/systems/S1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/systems/S1"


def test_sign_out_and_sign_out_everywhere(seeded_db: str, clock: Clock) -> None:
    """Sign-out ends this session; sign-out everywhere ends the other browser's too."""
    app = make_app(seeded_db, clock)
    with (
        TestClient(app, follow_redirects=False) as first,
        TestClient(app, follow_redirects=False) as second,
    ):
        sign_in(first, OWNER)
        sign_in(second, OWNER)
        page = first.get("/account")
        assert first.post("/signout", data={"csrf_token": csrf_of(page.text)}).status_code == 303
        assert first.get("/account").status_code == 303
        assert second.get("/account").status_code == 200
        sign_in(first, OWNER)
        page = first.get("/account")
        ended = first.post("/signout-everywhere", data={"csrf_token": csrf_of(page.text)})
        assert ended.status_code == 303
        assert first.get("/account").status_code == 303
        assert second.get("/account").status_code == 303
    tags = [tag for tag, _ in events(seeded_db, OWNER)]
    assert tags == [
        "signin_succeeded",
        "signin_succeeded",
        "signed_out",
        "signin_succeeded",
        "signed_out_everywhere",
    ]


def test_password_change_ends_older_sessions(seeded_db: str, clock: Clock) -> None:
    """A session that predates a password change is no longer valid; the changer stays in."""
    app = make_app(seeded_db, clock)
    with (
        TestClient(app, follow_redirects=False) as here,
        TestClient(app, follow_redirects=False) as elsewhere,
    ):
        sign_in(here, OWNER)
        sign_in(elsewhere, OWNER)
        clock.now += timedelta(minutes=1)
        page = here.get("/account")
        changed = here.post(
            "/account/password",
            data={
                "current": PASSWORD,
                "new": "a brand new secret",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert changed.status_code == 303
        assert here.get("/account").status_code == 200
        assert elsewhere.get("/account").status_code == 303
        assert sign_in(elsewhere, OWNER, PASSWORD).status_code == 401
        assert sign_in(elsewhere, OWNER, "a brand new secret").status_code == 303


def test_secrets_never_reach_the_logs(client: TestClient) -> None:
    """Passwords, session cookies, API tokens and link secrets appear in no log event."""
    with capture_logs() as logs:
        sign_in(client, REP, "a wrong password 42")
        signed = sign_in(client, OWNER)
        session = signed.cookies.get("pts_session") or client.cookies.get("pts_session")
        page = client.get("/account")
        made = client.post(
            "/account/tokens", data={"label": "script", "csrf_token": csrf_of(page.text)}
        )
        token = made.text.split('id="new-token">New token ')[1].split("<code>")[1].split("<")[0]
        assert (
            client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"}).json()[
                "account_id"
            ]
            == OWNER
        )
    assert session
    assert token.startswith("pts_")
    text = repr(logs)
    for secret in (PASSWORD, "a wrong password 42", session, token):
        assert secret not in text
    assert any(e["event"] == "signed_in" for e in logs)
    assert any(e["event"] == "request_handled" and e["route"] == "/signin" for e in logs)


def test_security_headers(client: TestClient) -> None:
    """No framing, no sniffing, no referrer off the site, only PTS's own resources."""
    headers = client.get("/signin").headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_sign_in_never_redirects_off_site(client: TestClient, target: str) -> None:
    """`next` may only be a local path: anything else goes to /."""
    form = client.get("/signin")
    answer = client.post(
        "/signin",
        data={
            "account_id": OWNER,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": target,
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def test_a_form_sent_after_the_session_ended_leads_back_to_its_page(
    client: TestClient, clock: Clock
) -> None:
    """The report form sent after expiry: sign in, then back to the form (not a 405)."""
    sign_in(client, REP)
    form = client.get("/systems/S1/report")
    clock.now += timedelta(hours=13)
    answer = client.post(
        "/systems/S1/report",
        data={
            "meter_id": "M1",
            "register_kwh": "1",
            "read_on": "2026-10-30",
            "csrf_token": csrf_of(form.text),
        },
        headers={"referer": "http://testserver/systems/S1/report"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/systems/S1/report"


@pytest.mark.parametrize(
    ("current", "new", "field", "says"),
    [
        ("not the password", "another long password", "current", "The current password is wrong."),
        (PASSWORD, "short", "new", "Choose a password of at least 10 characters."),
    ],
)
def test_a_refused_password_change_points_at_its_field(
    client: TestClient, current: str, new: str, field: str, says: str
) -> None:
    """The refusal is said at the field it concerns (aria-invalid, aria-describedby, focus)."""
    sign_in(client, OWNER)
    page = client.get("/account")
    refused = client.post(
        "/account/password",
        data={"current": current, "new": new, "csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 422
    assert f'<span id="refusal-text">{says}</span>' in refused.text
    tag = re.search(rf'<input id="{field}"[^>]*>', refused.text)
    assert tag is not None
    assert 'aria-invalid="true" aria-describedby="refusal-text" autofocus' in tag.group(0)
    assert refused.text.split("<main")[1].count('aria-invalid="true"') == 1
