"""The DAS intake's bounds against the real PostgreSQL and Kafka: a large backfill fits the
broker, a flood of made-up keys never exhausts the database's connections."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ingest.das.credentials import add_api_key
from ingest.das.rate_limit import RateLimiter
from ingest.das.registry import PostgresIntakeRegistry
from ingest.das.server import IntakeGuards, make_app
from ingest.kafka_sink import KafkaSink, KafkaTarget
from schemas.reading import ReadingBatch
from tests.integration.ingest.support import consume
from tests.support import register_fleet

pytestmark = pytest.mark.integration


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
    sink = KafkaSink(kafka_target)
    await sink.start()
    try:
        app = make_app(PostgresIntakeRegistry(fresh_db, pool_max=2), sink)
        client: TestClient[Any, Any]
        async with TestClient(TestServer(app)) as client:
            resp = await client.post(
                "/v1/reports", json={"systems": rows}, headers={"X-API-Key": key}
            )
            body = await resp.json()
        records = await consume(kafka_bootstrap, kafka_target.readings_topic, 2, timeout_s=15)
    finally:
        await sink.stop()
    assert resp.status == 200, body
    assert body["systems"][0]["recordsInserted"] == 5_000
    assert len(records) >= 2
    assert all(len(r.value) <= 900_000 for r in records)
    energies = sorted(
        x.energy_wh for r in records for x in ReadingBatch.model_validate_json(r.value).readings
    )
    assert energies == [n * 1_000 for n in range(5_000)]
    assert len(json.dumps({"systems": rows})) > 400_000


async def test_a_flood_of_made_up_keys_gets_401_never_500(
    fresh_db: str, kafka_target: KafkaTarget
) -> None:
    """250 concurrent requests with made-up keys (rate limits opened wide): every one is
    answered 401 through a pool of 5 connections; none is a 500 ('too many clients')."""
    sink = KafkaSink(kafka_target)
    guards = IntakeGuards(
        per_key=RateLimiter(1_000.0, 1_000), per_address=RateLimiter(1_000.0, 1_000)
    )
    registry = PostgresIntakeRegistry(fresh_db, pool_max=5)
    app = make_app(registry, sink, guards=guards)
    client: TestClient[Any, Any]
    await sink.start()
    try:
        async with TestClient(TestServer(app)) as client:

            async def attempt(n: int) -> int:
                resp = await client.post(
                    "/v1/reports", json={"systems": []}, headers={"X-API-Key": f"made-up-{n}"}
                )
                return resp.status

            statuses = await asyncio.gather(*(attempt(n) for n in range(250)))
    finally:
        await sink.stop()
    assert sorted(set(statuses)) == [401]
    with psycopg.connect(fresh_db) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend'"
        ).fetchone()
    assert row == (1,)  # the pool was closed with the app
