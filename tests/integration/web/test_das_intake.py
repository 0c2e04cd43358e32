"""The DAS intake on the web service, served by a real uvicorn, against the real PostgreSQL
and Kafka (moved from tests/integration/ingest/test_das_intake*.py when the intake moved onto
the web service), its Idempotency-Key, and per-reading feedback as a real `pts stream worker`
decided it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from certification.roles import Account
from ingest.das.credentials import add_api_key, revoke_api_key
from ingest.das.rate_limit import RateLimiter
from ingest.das.server import IntakeGuards
from ingest.kafka_sink import KafkaTarget
from schemas.reading import ReadingBatch
from tests.integration.ingest.support import consume
from tests.integration.stream.kafka_support import (
    create_topics,
    delete_topics,
    wait_all_committed,
)
from tests.integration.stream.test_faust import Fleet, fleet, topics
from tests.integration.web.support import ADMIN, OWNER, seed, served, settings_for
from tests.support import register_fleet
from web import accounts, credential_store, das
from web.app import create_app, utc_now

pytestmark = pytest.mark.integration
__all__ = ["fleet", "topics"]  # the stream tests' fixtures: private topics, worker processes


@pytest.fixture
async def kafka_target(kafka_bootstrap: str) -> AsyncIterator[KafkaTarget]:
    """Private readings and dead-letter topics for one test (made explicitly: the broker
    creates none on first use), deleted afterwards."""
    raw, dead = await create_topics(kafka_bootstrap)
    yield KafkaTarget(kafka_bootstrap, raw, dead)
    await delete_topics(kafka_bootstrap, raw, dead)


def web_app(db: str, target: KafkaTarget, **overrides: Any) -> FastAPI:
    """The whole web service on `db`, producing to the test's topics (real clock)."""
    settings = settings_for(
        db,
        kafka_bootstrap=target.bootstrap,
        kafka_readings_topic=target.readings_topic,
        kafka_dead_letter_topic=target.dead_letter_topic,
        **overrides,
    )
    return create_app(settings, clock=utc_now)


@pytest.fixture
def base(fresh_db: str, kafka_target: KafkaTarget) -> Iterator[str]:
    with served(web_app(fresh_db, kafka_target)) as url:
        yield url


async def test_report_into_kafka(
    fresh_db: str, kafka_bootstrap: str, kafka_target: KafkaTarget, base: str
) -> None:
    """A provider's JSON report: its systems' readings reach readings.raw keyed by meter;
    another provider's system and an unknown one are refused; a revoked key is refused."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["a-1", "a-2"], provider="acme")
        register_fleet(conn, ["s-1"], provider="solarco")
        key = add_api_key(conn, "acme", "test")
        spare = add_api_key(conn, "acme", "spare")
        assert revoke_api_key(conn, spare) is True
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        resp = await client.post(
            "/v1/reports",
            json={
                "systems": [
                    {"systemId": "S-a-1", "meterValue": 1000.001, "meterDate": "2026-11-01T23:45"},
                    {"systemId": "S-a-2", "meterValue": "2000", "meterDate": "2026-11-01T23:45"},
                    {"systemId": "S-s-1", "meterValue": 1, "meterDate": "2026-11-01T23:45"},
                    {"systemId": "S-zz", "meterValue": 1, "meterDate": "2026-11-01T23:45"},
                ]
            },
            headers={"X-API-Key": key},
        )
        body = resp.json()
        revoked = await client.post(
            "/api/v1/das/reports", json={"systems": []}, headers={"X-API-Key": spare}
        )
    records = await consume(kafka_bootstrap, kafka_target.readings_topic, 2, timeout_s=60)
    assert resp.status_code == 200
    assert [(s["systemId"], s["success"], s["recordsInserted"]) for s in body["systems"]] == [
        ("S-a-1", True, 1),
        ("S-a-2", True, 1),
        ("S-s-1", False, 0),
        ("S-zz", False, 0),
    ]
    assert body["systems"][3]["messages"] == ["system S-zz is not registered; check the systemId"]
    assert revoked.status_code == 401
    got = sorted(
        (
            r.key,
            [
                (x.meter_id, x.energy_wh, x.source_id)
                for x in ReadingBatch.model_validate_json(r.value).readings
            ],
        )
        for r in records
    )
    assert got == [(b"a-1", [("a-1", 1_000_001, "acme")]), (b"a-2", [("a-2", 2_000_000, "acme")])]


async def test_a_five_thousand_row_backfill_is_stored_in_records_that_fit(
    fresh_db: str, kafka_bootstrap: str, kafka_target: KafkaTarget
) -> None:
    """5,000 rows of one meter (1.6 MB as one batch, which the broker refused): 200, every
    reading in readings.raw once, in records the broker took."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["b-1"], provider="acme")
        key = add_api_key(conn, "acme", "test")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    rows = [
        {
            "systemId": "S-b-1",
            "meterValue": n,
            "meterDate": (start + timedelta(minutes=15 * n)).isoformat(),
        }
        for n in range(5_000)
    ]
    with served(web_app(fresh_db, kafka_target, das_pool_max=2)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            resp = await client.post(
                "/api/v1/das/reports", json={"systems": rows}, headers={"X-API-Key": key}
            )
    body = resp.json()
    records = await consume(kafka_bootstrap, kafka_target.readings_topic, 2, timeout_s=60)
    assert resp.status_code == 200, body
    assert body["systems"][0]["recordsInserted"] == 5_000
    assert len(records) >= 2
    assert all(len(r.value) <= 900_000 for r in records)
    energies = sorted(
        x.energy_wh for r in records for x in ReadingBatch.model_validate_json(r.value).readings
    )
    assert energies == [n * 1_000 for n in range(5_000)]
    assert len(json.dumps({"systems": rows})) > 400_000
    with psycopg.connect(fresh_db) as conn:
        kept = conn.execute(
            "SELECT count(*), count(record_offset) FROM das_report_readings WHERE report_id = %s",
            (body["reportId"],),
        ).fetchone()
    assert kept == (5_000, 5_000)


async def test_a_flood_of_made_up_keys_gets_401_never_500(
    fresh_db: str, kafka_target: KafkaTarget
) -> None:
    """250 concurrent requests with made-up keys (rate limits opened wide): every one is
    answered 401 through the intake's pool of 5 connections; none is a 500 ('too many
    clients'); the pools are closed with the server."""
    app = web_app(fresh_db, kafka_target, das_pool_max=5)
    guards = IntakeGuards(
        per_key=RateLimiter(1_000.0, 1_000), per_address=RateLimiter(1_000.0, 1_000)
    )
    app.state.das = das.das_service(settings_for(fresh_db, das_pool_max=5), utc_now, guards)
    with served(app) as url:
        limits = httpx.Limits(max_connections=250)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

            async def attempt(n: int) -> int:
                resp = await client.post(
                    "/api/v1/das/reports",
                    json={"systems": []},
                    headers={"X-API-Key": f"made-up-{n}"},
                )
                return resp.status_code

            statuses = await asyncio.gather(*(attempt(n) for n in range(250)))
    assert sorted(set(statuses)) == [401]
    with psycopg.connect(fresh_db) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend'"
        ).fetchone()
    assert row == (1,)  # the pools were closed with the server


async def test_an_idempotency_key_answers_a_retry_once(
    fresh_db: str, kafka_bootstrap: str, kafka_target: KafkaTarget, base: str
) -> None:
    """The same Idempotency-Key and body twice: the same answer, one report, one Kafka
    record; the same key with another body: 409; the same body without a key: a new report."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["i-1"], provider="acme")
        key = add_api_key(conn, "acme", "test")
    body = {"systems": [{"systemId": "S-i-1", "meterValue": 5, "meterDate": "2026-11-01T12:00"}]}
    headers = {"X-API-Key": key, "Idempotency-Key": "nightly-2026-11-01"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        first = await client.post("/api/v1/das/reports", json=body, headers=headers)
        again = await client.post("/api/v1/das/reports", json=body, headers=headers)
        body["systems"][0]["meterValue"] = 6
        clash = await client.post("/api/v1/das/reports", json=body, headers=headers)
        fresh = await client.post("/api/v1/das/reports", json=body, headers={"X-API-Key": key})
    assert (first.status_code, again.status_code, clash.status_code) == (200, 200, 409)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert clash.json()["code"] == "idempotency_key_reused"
    assert fresh.status_code == 200
    assert fresh.json()["reportId"] != first.json()["reportId"]
    records = await consume(kafka_bootstrap, kafka_target.readings_topic, 3, timeout_s=8)
    assert len(records) == 2  # the first report's and the unkeyed one's, never the replay's
    with psycopg.connect(fresh_db) as conn:
        reports = conn.execute(
            "SELECT idempotency_key, answer_status FROM das_reports ORDER BY received_at"
        ).fetchall()
    assert reports == [("nightly-2026-11-01", 200), (None, 200)]


async def test_the_status_shows_each_reading_as_the_stream_decided(
    fleet: Fleet, kafka_bootstrap: str
) -> None:
    """Through the real Kafka and a `pts stream worker`: a good reading is stored; one dated
    20 minutes ahead passes the intake (tolerance 1 h here) and is refused by the worker
    (tolerance 60 s) as future_timestamp; one dated tomorrow is refused by the intake; the
    good reading sent again in another report is a duplicate. Another provider sees 404."""
    db = fleet.db
    with psycopg.connect(db) as conn:
        register_fleet(conn, ["f-1"], provider="acme")
        register_fleet(conn, ["g-1"], provider="other")
        key = add_api_key(conn, "acme", "test")
        other_key = add_api_key(conn, "other", "test")
    worker = fleet.start("w1", {"PTS_STREAM_FUTURE_TOLERANCE_S": "60"})
    target = KafkaTarget(kafka_bootstrap, fleet.raw, fleet.dead)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        {"systemId": "S-f-1", "meterValue": value, "meterDate": (now + ahead).isoformat()}
        for value, ahead in (
            (1234, timedelta(hours=-1)),  # good
            (1240, timedelta(minutes=20)),  # inside the intake's tolerance, not the worker's
            (1250, timedelta(days=1)),  # beyond both
        )
    ]
    app = web_app(db, target, stream_future_tolerance_s=3600)
    with served(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            first = await client.post(
                "/api/v1/das/reports", json={"systems": rows}, headers={"X-API-Key": key}
            )
            second = await client.post(
                "/api/v1/das/reports", json={"systems": rows[:1]}, headers={"X-API-Key": key}
            )
            assert (first.status_code, second.status_code) == (200, 200), first.text
            await wait_all_committed(kafka_bootstrap, fleet.group, fleet.raw, 120, [worker])
            status = await client.get(first.json()["statusUrl"], headers={"X-API-Key": key})
            repeat = await client.get(second.json()["statusUrl"], headers={"X-API-Key": key})
            foreign = await client.get(first.json()["statusUrl"], headers={"X-API-Key": other_key})
    assert status.status_code == 200, status.text
    shown = status.json()
    assert [(r["row"], r["status"], r["code"], r["decidedBy"]) for r in shown["readings"]] == [
        (1, "stored", None, "stream"),
        (2, "refused", "future_timestamp", "stream"),
        (3, "refused", "future_timestamp", "intake"),
    ]
    assert shown["readings"][0]["energyWh"] == 1_234_000
    assert "clock" in shown["readings"][1]["reason"]
    assert shown["summary"] == {
        "stored": 1,
        "duplicate": 0,
        "conflict": 0,
        "refused": 2,
        "pending": 0,
    }
    assert [r["status"] for r in repeat.json()["readings"]] == ["duplicate"]
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "not_found"


def _account(conn: psycopg.Connection[Any], account_id: str) -> Account:
    row = credential_store.get_account(conn, account_id)
    assert row is not None
    return accounts.as_account(row)


async def test_who_may_read_a_reports_status(fresh_db: str, kafka_target: KafkaTarget) -> None:
    """The provider's key, its DAS provider account and an admin read a report's status
    (pending until the stream decides; no worker here); an owner's token gets 404; no
    credential 401."""
    seed(fresh_db)
    at = datetime(2026, 10, 30, tzinfo=UTC)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        key = add_api_key(conn, "sunny", "test")
        tokens = {
            who: accounts.create_token(conn, _account(conn, who), "t", at, "")[1]
            for who in (ADMIN, "sunny", OWNER)
        }
    row = {"systemId": "S3", "meterValue": 10, "meterDate": "2026-10-29T12:00"}
    with served(web_app(fresh_db, kafka_target)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            sent = await client.post(
                "/api/v1/das/reports", json={"systems": [row]}, headers={"X-API-Key": key}
            )
            path = sent.json()["statusUrl"]
            by_key = await client.get(path, headers={"X-API-Key": key})
            by_token = {
                who: await client.get(path, headers={"Authorization": f"Bearer {token}"})
                for who, token in tokens.items()
            }
            anonymous = await client.get(path)
    assert sent.status_code == 200
    assert [r["status"] for r in by_key.json()["readings"]] == ["pending"]
    assert {who: r.status_code for who, r in by_token.items()} == {
        ADMIN: 200,
        "sunny": 200,
        OWNER: 404,
    }
    assert by_token[ADMIN].json() == by_key.json()
    assert anonymous.status_code == 401
