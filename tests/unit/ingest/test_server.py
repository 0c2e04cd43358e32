"""The HTTP intake with a fake registry and a fake sink (the real ones: integration tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ingest.das.intake import SystemTarget
from ingest.das.server import make_app
from schemas.reading import ReadingBatch
from tests.unit.ingest.fakes import FakeIntakeRegistry, FakeSink

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def fake_registry() -> FakeIntakeRegistry:
    return FakeIntakeRegistry(
        {"key-acme": "acme", "key-solar": "solarco"},
        {
            "S-1": SystemTarget("S-1", "acme", "America/New_York", ("M-1",)),
            "S-9": SystemTarget("S-9", "solarco", "America/New_York", ("M-9",)),
        },
    )


@pytest.fixture
def sink() -> FakeSink:
    return FakeSink()


@pytest.fixture
async def client(sink: FakeSink) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_app(fake_registry(), sink, lambda: NOW))) as c:
        yield c


async def test_json_report(client: TestClient[Any, Any], sink: FakeSink) -> None:
    """Own system accepted and produced keyed by meter; a foreign one refused, not produced."""
    resp = await client.post(
        "/v1/reports",
        json={
            "systems": [
                {"systemId": "S-1", "meterValue": 10.5, "meterDate": "2026-11-30T23:45"},
                {"systemId": "S-9", "meterValue": 1, "meterDate": "2026-11-30T23:45"},
            ]
        },
        headers={"X-API-Key": "key-acme"},
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["systems"] == [
        {"systemId": "S-1", "success": True, "recordsInserted": 1, "messages": []},
        {
            "systemId": "S-9",
            "success": False,
            "recordsInserted": 0,
            "messages": [
                "system S-9 is not reported by provider acme; only its DAS provider of record "
                "may report it"
            ],
        },
    ]
    [record] = [r for r in sink.records if not r.dead_letter]
    [dead] = [r for r in sink.records if r.dead_letter]
    assert dict(dead.headers)["reason_code"] == b"provider_mismatch"
    assert record.key == b"M-1"
    batch = ReadingBatch.model_validate_json(record.value)
    assert [(r.meter_id, r.energy_wh, r.source_id) for r in batch.readings] == [
        ("M-1", 10_500, "acme")
    ]
    assert dict(record.headers)["das_report_id"] == body["reportId"].encode()


async def test_csv_report(client: TestClient[Any, Any], sink: FakeSink) -> None:
    """The same through CSV."""
    resp = await client.post(
        "/v1/reports",
        data="systemId,meterValue,meterDate,unit\nS-9,123,2026-11-30T23:45:00Z,Wh\n",
        headers={"X-API-Key": "key-solar", "Content-Type": "text/csv"},
    )
    assert resp.status == 200
    assert (await resp.json())["systems"] == [
        {"systemId": "S-9", "success": True, "recordsInserted": 1, "messages": []}
    ]
    assert [r.key for r in sink.records] == [b"M-9"]


async def test_unknown_key(client: TestClient[Any, Any], sink: FakeSink) -> None:
    """No key or an unknown key: 401, nothing read, nothing produced."""
    for headers in ({}, {"X-API-Key": "nope"}):
        resp = await client.post("/v1/reports", json={"systems": []}, headers=headers)
        assert resp.status == 401
        assert await resp.json() == {
            "error": "missing or unknown API key; send it in the X-API-Key header"
        }
    assert [r for r in sink.records if not r.dead_letter] == []


async def test_unreadable_body(client: TestClient[Any, Any], sink: FakeSink) -> None:
    """A body that is not a report: 400 with the reason."""
    resp = await client.post(
        "/v1/reports", data=b"<xml/>", headers={"X-API-Key": "key-acme", "Content-Type": "text/xml"}
    )
    assert resp.status == 400
    assert await resp.json() == {
        "error": "Content-Type 'text/xml': send application/json or text/csv"
    }
    assert [r for r in sink.records if not r.dead_letter] == []
