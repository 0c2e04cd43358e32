"""GET /api/v1/systems/{id}/provenance/{month}: the portal's provenance of a closed month."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from fastapi.testclient import TestClient

from certification.manual_reports import ManualReport
from certification.roles import Account, Role
from certification.workflows.close_month import close_month
from certification.workflows.submit_report import submit_manual_report
from tests.integration.web.conftest import client, clock, seeded_db
from tests.integration.web.support import OTHER_OWNER, OWNER, REP, Clock
from web.accounts import as_account, create_token
from web.credential_store import get_account

__all__ = ["client", "clock", "seeded_db"]  # the web tests' fixtures, used here

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]


def token(url: str, account_id: str, clock: Clock) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = get_account(conn, account_id)
        assert row is not None
        _, secret = create_token(conn, as_account(row), "provenance", clock(), "test")
    return {"authorization": f"Bearer {secret}"}


def test_a_manual_month_states_who_entered_it_and_its_photo(
    client: TestClient, clock: Clock, seeded_db: str
) -> None:
    """S1 is reported manually: two reports by rep-1 bound September; the provenance names
    the account and the photo of each and says they are stated, not proven. Another owner
    and an unclosed month answer 404, a malformed month 422."""
    with psycopg.connect(seeded_db) as conn:
        for read_at, wh, photo, now in (
            ("2026-08-31T20:00:00+00:00", 1_000_000, "aug.jpg", "2026-09-01T12:00:00+00:00"),
            ("2026-09-30T20:00:00+00:00", 1_400_000, "sep.jpg", "2026-10-01T12:00:00+00:00"),
        ):
            report = ManualReport("M1", wh, datetime.fromisoformat(read_at), photo)
            submit_manual_report(conn, REP, report, datetime.fromisoformat(now), Decimal(10))
        close_month(
            conn, "2026-09", Account("staff", Role.ADMIN), datetime(2026, 10, 7, tzinfo=UTC)
        )
    owner = token(seeded_db, OWNER, clock)
    got = client.get("/api/v1/systems/S1/provenance/2026-09", headers=owner)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/plain")
    # 400,000 Wh between the reads, 395,556 Wh of it inside September (New York): month
    # close interpolates to the month's edges
    assert "meter M1: 395556 Wh, 2 readings: NOT PROVEN" in got.text
    assert "manual: entered by rep-1, photo aug.jpg (stated, not signed)" in got.text
    assert "manual: entered by rep-1, photo sep.jpg (stated, not signed)" in got.text
    other = token(seeded_db, OTHER_OWNER, clock)
    assert client.get("/api/v1/systems/S1/provenance/2026-09", headers=other).status_code == 404
    unclosed = client.get("/api/v1/systems/S1/provenance/2026-08", headers=owner)
    assert (unclosed.status_code, unclosed.json()["code"]) == (404, "not_found")
    assert client.get("/api/v1/systems/S1/provenance/2026-9", headers=owner).status_code == 422
