"""Admin work through the web: invitations and reset links, REC Owner changes, the write log;
personal API tokens; the OpenAPI document."""

from __future__ import annotations

import re

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.integration.web.support import ADMIN, OWNER, PASSWORD, REC_OWNER, Clock, csrf_of, sign_in
from web import credential_store, read_store

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]


def tags(url: str, subject: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [e.tag for e in credential_store.events_of(conn, subject)][::-1]


def test_invitation_link_works_once(client: TestClient, seeded_db: str, clock: Clock) -> None:
    """An admin creates an account; its one-time link sets the password, then is used up.
    Issuing it is an event; the link itself is stored only as a digest."""
    sign_in(client, ADMIN)
    page = client.get("/admin")
    made = client.post(
        "/admin/accounts",
        data={
            "account_id": "hana",
            "role": "system_owner",
            "name": "Hana H",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert made.status_code == 200
    link = re.search(r"/link/([A-Za-z0-9_-]{40,})", made.text)
    assert link is not None
    secret = link.group(1)
    newcomer = TestClient(client.app, follow_redirects=False)  # the pool is the outer's
    form = newcomer.get(f"/link/{secret}")
    assert form.status_code == 200
    assert 'Your account id is <strong id="your-account">hana</strong>' in form.text
    short = newcomer.post(
        f"/link/{secret}", data={"password": "short", "csrf_token": csrf_of(form.text)}
    )
    assert short.status_code == 422
    assert "at least 10 characters" in short.text
    done = newcomer.post(
        f"/link/{secret}",
        data={"password": "hana's long password", "csrf_token": csrf_of(form.text)},
    )
    assert (done.status_code, done.headers["location"]) == (303, "/?welcome=1")
    home = newcomer.get("/?welcome=1")  # signed in by setting the password
    assert "you are signed in as <strong>hana</strong>" in home.text
    assert newcomer.get(f"/link/{secret}").status_code == 404
    later = TestClient(client.app, follow_redirects=False)
    assert sign_in(later, "hana", "hana's long password").status_code == 303
    assert tags(seeded_db, "hana") == [
        "invitation_link_issued",
        "password_set",
        "signin_succeeded",
        "signin_succeeded",
    ]
    with psycopg.connect(seeded_db) as conn:
        stored = conn.execute("SELECT link_sha256 FROM account_links").fetchall()
        writes = read_store.recent_writes(conn, 5)
    assert secret not in repr(stored)
    assert (writes[0].account_id, writes[0].action, writes[0].outcome) == (
        ADMIN,
        "POST /admin/accounts",
        "done",
    )


def test_only_admins_invite(client: TestClient) -> None:
    sign_in(client, OWNER)
    page = client.get("/account")
    refused = client.post(
        "/admin/accounts",
        data={"account_id": "eve", "role": "admin", "csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 403
    assert "Only an admin may create accounts." in refused.text


def test_admin_approves_a_rec_owner_change(client: TestClient, seeded_db: str) -> None:
    """The REC Owner asks for buyer-10 with the contract; the admin approves from the queue;
    the system's REC Owner is then buyer-10."""
    rec = TestClient(client.app, follow_redirects=False)
    sign_in(rec, REC_OWNER)
    page = rec.get("/systems/S1")
    asked = rec.post(
        "/systems/S1/change-requests",
        data={
            "new_rec_owner_id": "buyer-10",
            "transfer_contract": "contract-7.pdf",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert asked.status_code == 303
    sign_in(client, ADMIN)
    queue = client.get("/admin")
    found = re.search(r'action="/admin/change-requests/S1/([^"]+)"', queue.text)
    assert found is not None
    approved = client.post(
        f"/admin/change-requests/S1/{found.group(1)}",
        data={"decision": "approved", "csrf_token": csrf_of(queue.text)},
    )
    assert approved.status_code == 303
    assert "No open requests." in client.get("/admin").text
    assert "The REC Owner is <strong>buyer-10</strong>" in client.get("/systems/S1").text
    with psycopg.connect(seeded_db) as conn:
        owner = conn.execute("SELECT rec_owner_id FROM systems WHERE system_id = 'S1'").fetchone()
    assert owner == ("buyer-10",)


def test_api_tokens_are_shown_once_and_revocable(client: TestClient, seeded_db: str) -> None:
    sign_in(client, OWNER)
    page = client.get("/account")
    made = client.post(
        "/account/tokens", data={"label": "laptop", "csrf_token": csrf_of(page.text)}
    )
    token = re.search(r"<code>(pts_[A-Za-z0-9_-]+)</code>", made.text)
    assert token is not None
    bearer = {"authorization": f"Bearer {token.group(1)}"}
    assert client.get("/account").text.count(token.group(1)) == 0  # never shown again
    script = TestClient(client.app)
    assert script.get("/api/v1/me", headers=bearer).json() == {
        "account_id": OWNER,
        "role": "system_owner",
        "name": "Olive Owner",
        "email": "olive@example.org",
    }
    listed = script.get("/api/v1/me/tokens", headers=bearer).json()
    assert [(t["label"], t["revoked_at"]) for t in listed] == [("laptop", None)]
    assert (
        script.delete(f"/api/v1/me/tokens/{listed[0]['token_id']}", headers=bearer).status_code
        == 204
    )
    after = script.get("/api/v1/me", headers=bearer)
    assert after.status_code == 401
    assert after.json()["code"] == "sign_in_required"
    with psycopg.connect(seeded_db) as conn:
        stored = conn.execute("SELECT token_sha256 FROM api_tokens").fetchall()
    assert token.group(1) not in repr(stored)
    assert tags(seeded_db, OWNER)[-2:] == ["token_created", "token_revoked"]


def test_cookie_api_writes_need_the_csrf_header(client: TestClient) -> None:
    """A browser session may call the API, but its writes need X-CSRF-Token."""
    sign_in(client, OWNER)
    assert client.get("/api/v1/me").status_code == 200
    refused = client.post("/api/v1/me/tokens", json={"label": "x"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    token = csrf_of(client.get("/account").text)
    assert (
        client.post(
            "/api/v1/me/tokens", json={"label": "x"}, headers={"x-csrf-token": token}
        ).status_code
        == 201
    )


def test_openapi_document(client: TestClient) -> None:
    """OpenAPI 3.1 at /api/openapi.json lists the API and its error body."""
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/api/v1/systems/{system_id}/readings" in doc["paths"]
    assert "/signin" not in doc["paths"]
    assert set(doc["components"]["schemas"]["ErrorOut"]["properties"]) == {"code", "message"}


def test_create_admin_command(fresh_db: str, tmp_path: object) -> None:
    """`pts accounts create-admin` takes the password from a file, never from argv."""
    from pathlib import Path

    from click.testing import CliRunner

    from pts.cli import cli

    assert isinstance(tmp_path, Path)
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    runner = CliRunner()
    env = {"PTS_DATABASE_URL": fresh_db}
    done = runner.invoke(
        cli, ["accounts", "create-admin", "root-admin", "--password-file", str(secret)], env=env
    )
    assert done.exit_code == 0, done.output
    assert done.stdout == "admin root-admin created; sign in at /signin\n"
    again = runner.invoke(
        cli, ["accounts", "create-admin", "root-admin", "--password-file", str(secret)], env=env
    )
    assert again.exit_code == 2
    with psycopg.connect(fresh_db) as conn:
        row = conn.execute(
            "SELECT a.role, c.password_hash FROM accounts a "
            "JOIN account_credentials c USING (account_id)"
        ).fetchone()
    assert row is not None
    assert row[0] == "admin"
    assert row[1].startswith("$argon2id$")


def test_demo_accounts_sign_in(seeded_db: str, clock: Clock) -> None:
    """`pts demo --serve` makes an admin and the first system's owner, with fresh passwords."""
    from tests.integration.web.support import make_app
    from web.demo_serve import demo_accounts

    made = demo_accounts(seeded_db)
    assert [(a.account_id, a.role.value) for a in made] == [
        ("demo-admin", "admin"),
        (OWNER, "system_owner"),
    ]
    with TestClient(make_app(seeded_db, clock), follow_redirects=False) as browser:
        for account in made:
            assert sign_in(browser, account.account_id, account.password).status_code == 303
            browser.cookies.clear()


def test_admin_closes_a_month_and_sees_the_flagged_systems(client: TestClient) -> None:
    """September closes for all three systems (no readings: estimated and flagged); the page
    lists them with the owner's contact; the quarter's GIS draft downloads as CSV."""
    sign_in(client, ADMIN)
    page = client.get("/admin")
    closed = client.post(
        "/admin/month-close", data={"month": "2026-09", "csrf_token": csrf_of(page.text)}
    )
    assert closed.status_code == 303
    assert closed.headers["location"] == "/admin?closed=2026-09&systems=3&flagged=3"
    admin = client.get(closed.headers["location"]).text
    flagged = admin.split('id="flagged"')[1].split("</table>")[0]
    assert "olive@example.org" in flagged
    assert flagged.count('<td><a href="/systems/') == 3
    again = client.post(
        "/admin/month-close", data={"month": "2026-09", "csrf_token": csrf_of(page.text)}
    )
    assert again.status_code == 409
    draft = client.get("/admin/gis-draft?quarter=2026Q3")
    assert draft.status_code == 200
    assert draft.headers["content-type"].startswith("text/csv")
    assert draft.headers["content-disposition"] == 'attachment; filename="gis-2026Q3-draft.csv"'
    bad = client.post(
        "/admin/month-close", data={"month": "0000-01", "csrf_token": csrf_of(page.text)}
    )
    assert bad.status_code == 422


def test_a_disabled_account_is_out_everywhere(client: TestClient, seeded_db: str) -> None:
    """Disabling ends the sessions, stops the tokens and refuses sign-in; enabling restores
    sign-in."""
    rep = TestClient(client.app, follow_redirects=False)
    sign_in(rep, "rep-1")
    page = rep.get("/account")
    made = rep.post("/account/tokens", data={"label": "s", "csrf_token": csrf_of(page.text)})
    token = re.search(r"<code>(pts_[A-Za-z0-9_-]+)</code>", made.text)
    assert token is not None
    bearer = {"authorization": f"Bearer {token.group(1)}"}
    sign_in(client, ADMIN)
    admin = client.get("/admin")
    done = client.post(
        "/admin/accounts/rep-1/disabled",
        data={"disabled": "true", "csrf_token": csrf_of(admin.text)},
    )
    assert done.status_code == 303
    assert rep.get("/account").status_code == 303
    assert rep.get("/api/v1/me", headers=bearer).status_code == 401
    assert sign_in(TestClient(client.app, follow_redirects=False), "rep-1").status_code == 401
    client.post(
        "/admin/accounts/rep-1/disabled",
        data={"disabled": "false", "csrf_token": csrf_of(admin.text)},
    )
    assert sign_in(TestClient(client.app, follow_redirects=False), "rep-1").status_code == 303
    assert tags(seeded_db, "rep-1") == [
        "signin_succeeded",
        "token_created",
        "account_disabled",
        "signin_failed",
        "account_enabled",
        "signin_succeeded",
    ]
