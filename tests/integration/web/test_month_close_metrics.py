"""A month close through the web service is timed and its findings counted by code in the
service's /metrics (pts_month_close_seconds, pts_month_close_findings_total)."""

from __future__ import annotations

from collections import Counter

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.integration.web.support import Clock, csrf_of, sign_in
from web.accounts import as_account, create_token
from web.credential_store import get_account
from web.metrics import WebMetrics

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]


def test_a_month_close_is_timed_and_its_findings_counted_by_code(
    seeded_db: str, client: TestClient, clock: Clock
) -> None:
    """September closed for the three seeded systems by the API: one close timed, and each
    finding code counted as often as the answer lists it."""
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        staff = get_account(conn, "staff")
        assert staff is not None
        _, token = create_token(conn, as_account(staff), "close", clock(), "test")
    metrics = client.app.state.metrics  # type: ignore[attr-defined]  # the FastAPI app
    assert isinstance(metrics, WebMetrics)
    registry = metrics.registry
    assert registry.get_sample_value("pts_month_close_seconds_count") == 0
    answer = client.post(
        "/api/v1/month-closes",
        json={"month": "2026-09"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.text
    codes = Counter(code for system in answer.json() for code in system["findings"])
    assert len(answer.json()) == 3
    assert codes  # no readings in September: every system is estimated and flagged
    assert registry.get_sample_value("pts_month_close_seconds_count") == 1
    took = registry.get_sample_value("pts_month_close_seconds_sum")
    assert took is not None
    assert took > 0
    for code, count in codes.items():
        assert registry.get_sample_value("pts_month_close_findings_total", {"code": code}) == count


def test_a_month_closed_on_the_admin_page_is_counted_too(
    seeded_db: str, client: TestClient
) -> None:
    """The admin page's close is timed, and its findings counted by code exactly as the
    closes stored them."""
    metrics = client.app.state.metrics  # type: ignore[attr-defined]  # the FastAPI app
    assert isinstance(metrics, WebMetrics)
    assert sign_in(client, "staff").status_code == 303
    page = client.get("/admin")
    closed = client.post(
        "/admin/month-close", data={"month": "2026-09", "csrf_token": csrf_of(page.text)}
    )
    assert closed.status_code == 303
    assert metrics.registry.get_sample_value("pts_month_close_seconds_count") == 1
    with psycopg.connect(seeded_db) as conn:
        stored: dict[str, float] = dict(
            conn.execute(
                "SELECT f->>'code', count(*) FROM month_closes, jsonb_array_elements(findings) f"
                " WHERE month = '2026-09' GROUP BY 1"
            ).fetchall()
        )
    counted = {
        s.labels["code"]: s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == "pts_month_close_findings_total"
    }
    assert stored  # three systems without readings, each flagged
    assert counted == stored
