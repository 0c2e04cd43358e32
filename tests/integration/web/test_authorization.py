"""The authorization matrix (tests/integration/web/authz_table.py) against the real app."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from storage import certification_store
from tests.integration.web.authz_table import ACCOUNTS, CLOSED_MONTH, SYSTEMS, TABLE, markdown
from tests.integration.web.support import Clock, sign_in
from web.accounts import as_account, create_token
from web.credential_store import get_account

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]

DOCS = Path(__file__).resolve().parents[3] / "docs" / "web.md"


def test_authorization_matrix(seeded_db: str, client: TestClient, clock: Clock) -> None:
    """Every caller × endpoint × system answers the status of the table; errors are JSON
    {code, message} on the API, and no cell is a 5xx."""
    tokens: dict[str, str] = {}
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        for values in SYSTEMS.values():
            certification_store.save_close(
                conn, values["s"], CLOSED_MONTH, 500_000, False, [], [], "staff", clock()
            )
        for caller, account_id in ACCOUNTS.items():
            found = get_account(conn, account_id)
            assert found is not None
            _, tokens[caller] = create_token(conn, as_account(found), "matrix", clock(), "test")
    sessions: dict[str, TestClient] = {}
    wrong: list[str] = []
    for caller in ACCOUNTS:  # one browser per caller, sharing the app (and its pool)
        sessions[caller] = TestClient(client.app, follow_redirects=False)
        assert sign_in(sessions[caller], ACCOUNTS[caller]).status_code == 303
    for row in TABLE:
        for which in ("own", "other") if row.other else ("own",):
            values = SYSTEMS[which]
            path = row.path.format(**values)
            body = json.loads(row.body.format(**values)) if row.body else None
            for caller, expected in row.statuses(which).items():
                if path.startswith("/api/"):
                    headers = (
                        {}
                        if caller == "anonymous"
                        else {"authorization": f"Bearer {tokens[caller]}"}
                    )
                    answer = client.request(row.method, path, json=body, headers=headers)
                else:
                    browser = sessions.get(caller) or TestClient(client.app, follow_redirects=False)
                    answer = browser.request(row.method, path)
                if answer.status_code != expected:
                    wrong.append(
                        f"{caller} {row.method} {path}: {answer.status_code} "
                        f"(expected {expected}) {answer.text[:120]}"
                    )
                if path.startswith("/api/") and answer.status_code >= 400:
                    assert set(answer.json()) == {"code", "message"}
    assert wrong == []


def test_other_systems_answer_like_missing_ones(client: TestClient) -> None:
    """A system the caller has no role on and one that does not exist answer the same 404."""
    sign_in(client, "owner-1")
    theirs = client.get("/systems/S2")
    missing = client.get("/systems/NOPE")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text == missing.text


def test_docs_print_the_matrix() -> None:
    """docs/web.md prints the table the matrix test runs."""
    assert markdown() in DOCS.read_text()
