"""`pts web serve` serves its metrics on PTS_WEB_METRICS_PORT, scraped from the real process:
requests by route template, method and status, latency, sign-in failures, DAS readings
accepted and refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingest.das.credentials import add_api_key
from tests.integration.stream.kafka_support import create_topics, delete_topics
from tests.integration.web.support import csrf_of, free_port

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]


@pytest.fixture
async def topics(kafka_bootstrap: str) -> AsyncIterator[tuple[str, str]]:
    raw, dead = await create_topics(kafka_bootstrap)
    yield raw, dead
    await delete_topics(kafka_bootstrap, raw, dead)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_served_metrics_count_requests_signins_and_das_readings(
    seeded_db: str, kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        key = add_api_key(conn, "sunny", "test")
    port, metrics_port = free_port(), free_port()
    pts = Path(sys.executable).parent / "pts"
    env = {
        **os.environ,
        "PTS_DATABASE_URL": seeded_db,
        "PTS_WEB_METRICS_PORT": str(metrics_port),
        "PTS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PTS_KAFKA_READINGS_TOPIC": topics[0],
        "PTS_KAFKA_DEAD_LETTER_TOPIC": topics[1],
    }
    command = [str(pts) if pts.exists() else "pts", "web", "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "pts web serve exited"
            assert time.monotonic() < deadline, "pts web serve did not answer in 60 s"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=60) as client:
            form = client.get("/signin")
            wrong = client.post(
                "/signin",
                data={"account_id": "owner-1", "password": "not the password",
                      "csrf_token": csrf_of(form.text)},
            )  # fmt: skip
            report = client.post(
                "/api/v1/das/reports",
                json={"systems": [
                    {"systemId": "S3", "meterValue": 5, "meterDate": "2026-10-29T12:00"},
                    {"systemId": "S1", "meterValue": 5, "meterDate": "2026-10-29T12:00"},
                ]},
                headers={"X-API-Key": key},
            )  # fmt: skip
            system = client.get("/api/v1/systems/S1")
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert (wrong.status_code, report.status_code, system.status_code) == (401, 200, 401)
    got = samples(scraped)

    def value(name: str, **labels: str) -> float:
        return got.get((name, tuple(sorted(labels.items()))), -1.0)

    assert value("pts_web_requests_total", route="/signin", method="POST", status="401") == 1
    assert value("pts_web_requests_total", route="/signin", method="GET", status="200") == 1
    assert (
        value("pts_web_requests_total", route="/api/v1/das/reports", method="POST", status="200")
        == 1
    )
    assert (
        value(
            "pts_web_requests_total",
            route="/api/v1/systems/{system_id}",
            method="GET",
            status="401",
        )
        == 1
    )
    assert value("pts_web_request_seconds_count", route="/signin") == 2
    assert value("pts_web_signin_failures_total", reason="bad_credentials") == 1
    assert value("pts_web_das_readings_total", outcome="accepted") == 1
    assert value("pts_web_das_readings_total", outcome="refused") == 1
