"""The HTTP intake against the real registry (PostgreSQL) and Kafka."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ingest.das.credentials import add_api_key, revoke_api_key
from ingest.das.registry import PostgresIntakeRegistry
from ingest.das.server import make_app
from ingest.kafka_sink import KafkaSink, KafkaTarget
from schemas.reading import ReadingBatch
from tests.integration.ingest.support import consume
from tests.support import register_fleet

pytestmark = pytest.mark.integration


async def test_report_into_kafka(
    fresh_db: str, kafka_bootstrap: str, kafka_target: KafkaTarget
) -> None:
    """A provider's JSON report: its systems' readings reach readings.raw keyed by meter;
    another provider's system and an unknown one are refused; a revoked key is refused."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["a-1", "a-2"], provider="acme")
        register_fleet(conn, ["s-1"], provider="solarco")
        key = add_api_key(conn, "acme", "test")
        spare = add_api_key(conn, "acme", "spare")
        assert revoke_api_key(conn, spare) is True
    target = kafka_target
    sink = KafkaSink(target)
    await sink.start()
    try:
        app = make_app(PostgresIntakeRegistry(fresh_db), sink)
        client: TestClient[Any, Any]
        async with TestClient(TestServer(app)) as client:
            resp = await client.post(
                "/v1/reports",
                json={
                    "systems": [
                        {
                            "systemId": "S-a-1",
                            "meterValue": 1000.001,
                            "meterDate": "2026-11-01T23:45",
                        },
                        {
                            "systemId": "S-a-2",
                            "meterValue": "2000",
                            "meterDate": "2026-11-01T23:45",
                        },
                        {"systemId": "S-s-1", "meterValue": 1, "meterDate": "2026-11-01T23:45"},
                        {"systemId": "S-zz", "meterValue": 1, "meterDate": "2026-11-01T23:45"},
                    ]
                },
                headers={"X-API-Key": key},
            )
            body = await resp.json()
            revoked = await client.post(
                "/v1/reports", json={"systems": []}, headers={"X-API-Key": spare}
            )
        records = await consume(kafka_bootstrap, target.readings_topic, 2, timeout_s=10)
    finally:
        await sink.stop()
    assert resp.status == 200
    assert [(s["systemId"], s["success"], s["recordsInserted"]) for s in body["systems"]] == [
        ("S-a-1", True, 1),
        ("S-a-2", True, 1),
        ("S-s-1", False, 0),
        ("S-zz", False, 0),
    ]
    assert body["systems"][3]["messages"] == ["system S-zz is not registered; check the systemId"]
    assert revoked.status == 401
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
