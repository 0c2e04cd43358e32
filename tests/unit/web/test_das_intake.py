"""The DAS intake on the web service's routes with fakes of its ports (the real registry,
PostgreSQL and Kafka: tests/integration/web/test_das_intake.py). Moved from the aiohttp
server's tests (tests/unit/ingest/test_server.py, test_intake_bounds.py) when the intake
moved onto the web service: same answers, errors now `{code, message, error}`."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ingest.das.intake import SystemTarget
from ingest.das.rate_limit import RateLimiter
from ingest.das.server import IntakeGuards
from ingest.envelope import record_bytes
from schemas.reading import ReadingBatch
from tests.unit.ingest.fakes import FakeSink
from tests.unit.web.das_fakes import FakeStore, intake_app

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
TARGETS = {
    "S-1": SystemTarget("S-1", "acme", "America/New_York", ("M-1",)),
    "S-2": SystemTarget("S-2", "acme", "America/New_York", ("M-2",)),
    "S-9": SystemTarget("S-9", "solarco", "America/New_York", ("M-9",)),
}
KEY = {"X-API-Key": "key-acme"}
KEYS = {"key-acme": "acme", "key-b": "acme", "key-solar": "solarco"}


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def client_for(
    sink: FakeSink, guards: IntakeGuards | None = None, store: FakeStore | None = None
) -> httpx.AsyncClient:
    app = intake_app(store or FakeStore(KEYS, TARGETS), sink, lambda: NOW, guards)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pts")


@pytest.fixture
def sink() -> FakeSink:
    return FakeSink()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(KEYS, TARGETS)


@pytest.fixture
async def client(sink: FakeSink, store: FakeStore) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(sink, store=store) as c:
        yield c


def row(
    value: object = 10, date: object = "2026-11-30T23:45", system: object = "S-1"
) -> dict[str, object]:
    return {"systemId": system, "meterValue": value, "meterDate": date}


async def post_json(
    client: httpx.AsyncClient, body: bytes, path: str = "/api/v1/das/reports"
) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        path, content=body, headers={**KEY, "Content-Type": "application/json"}
    )
    return resp.status_code, resp.json()


async def test_json_report(client: httpx.AsyncClient, sink: FakeSink, store: FakeStore) -> None:
    """Own system accepted and produced keyed by meter; a foreign one refused, not produced;
    every row's outcome kept for the status endpoint."""
    resp = await client.post(
        "/v1/reports",
        json={
            "systems": [
                {"systemId": "S-1", "meterValue": 10.5, "meterDate": "2026-11-30T23:45"},
                {"systemId": "S-9", "meterValue": 1, "meterDate": "2026-11-30T23:45"},
            ]
        },
        headers=KEY,
    )
    assert resp.status_code == 200
    body = resp.json()
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
    assert body["statusUrl"] == f"/api/v1/das/reports/{body['reportId']}"
    [record] = [r for r in sink.records if not r.dead_letter]
    [dead] = [r for r in sink.records if r.dead_letter]
    assert dict(dead.headers)["reason_code"] == b"provider_mismatch"
    assert record.key == b"M-1"
    batch = ReadingBatch.model_validate_json(record.value)
    assert [(r.meter_id, r.energy_wh, r.source_id) for r in batch.readings] == [
        ("M-1", 10_500, "acme")
    ]
    assert dict(record.headers)["das_report_id"] == body["reportId"].encode()
    rows = store.rows[body["reportId"]]
    assert [(r.row_no, r.system_id, r.meter_id, r.energy_wh, r.intake_code) for r in rows] == [
        (1, "S-1", "M-1", 10_500, None),
        (2, "S-9", None, None, "provider_mismatch"),
    ]


async def test_csv_report(client: httpx.AsyncClient, sink: FakeSink) -> None:
    """The same through CSV."""
    resp = await client.post(
        "/api/v1/das/reports",
        content="systemId,meterValue,meterDate,unit\nS-9,123,2026-11-30T23:45:00Z,Wh\n",
        headers={"X-API-Key": "key-solar", "Content-Type": "text/csv"},
    )
    assert resp.status_code == 200
    assert resp.json()["systems"] == [
        {"systemId": "S-9", "success": True, "recordsInserted": 1, "messages": []}
    ]
    assert [r.key for r in sink.records] == [b"M-9"]


async def test_unknown_key(client: httpx.AsyncClient, sink: FakeSink) -> None:
    """No key or an unknown key: 401, nothing read, nothing produced."""
    for headers in ({}, {"X-API-Key": "nope"}):
        resp = await client.post("/api/v1/das/reports", json={"systems": []}, headers=headers)
        assert resp.status_code == 401
        message = "missing or unknown API key; send it in the X-API-Key header"
        assert resp.json() == {"code": "unknown_api_key", "message": message, "error": message}
    assert [r for r in sink.records if not r.dead_letter] == []


async def test_unreadable_body(client: httpx.AsyncClient, sink: FakeSink) -> None:
    """A body that is not a report: 400 with the reason."""
    resp = await client.post(
        "/v1/reports", content=b"<xml/>", headers={**KEY, "Content-Type": "text/xml"}
    )
    assert resp.status_code == 400
    assert resp.json()["code"] == "malformed_report"
    assert resp.json()["error"] == "Content-Type 'text/xml': send application/json or text/csv"
    assert [r for r in sink.records if not r.dead_letter] == []


async def test_nul_in_a_system_id_is_400_with_a_reason(
    client: httpx.AsyncClient, sink: FakeSink
) -> None:
    """JSON and CSV alike: a NUL byte in systemId is refused before any registry look-up."""
    status, body = await post_json(
        client, json.dumps({"systems": [row(system="S-\x001")]}).encode()
    )
    assert (status, body["error"]) == (
        400,
        "systems[0].systemId contains a control character (U+0000); send the plain id",
    )
    resp = await client.post(
        "/api/v1/das/reports",
        content="systemId,meterValue,meterDate\nS-\x001,1,2026-11-30T23:45\n",
        headers={**KEY, "Content-Type": "text/csv"},
    )
    assert resp.status_code == 400
    assert "control character (U+0000)" in resp.json()["error"]
    assert [r for r in sink.records if not r.dead_letter] == []
    assert [dict(r.headers)["reason_code"] for r in sink.records] == [b"malformed_report"] * 2


async def test_deeply_nested_json_is_400(client: httpx.AsyncClient, sink: FakeSink) -> None:
    """100,000 nested arrays: 400 saying the nesting is too deep."""
    status, body = await post_json(client, b"[" * 100_000 + b"]" * 100_000)
    assert status == 400
    assert "deep" in body["error"]
    status, body = await post_json(
        client, b'{"systems": [{"systemId": "S-1", "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}]}"
    )
    assert status == 400
    assert [r for r in sink.records if not r.dead_letter] == []
    assert all(len(r.value) <= 900_000 for r in sink.records)


@pytest.mark.parametrize(
    ("date", "reason"),
    [
        ("9999-12-31", "is later than"),
        ("9999-12-31T23:59:59-05:00", "is later than"),
        ("0001-01-01", "is before"),
        ("0001-01-01T00:00:00+14:00", "is before"),
        ("1900-01-01T00:00:00Z", "is before"),
    ],
)
async def test_dates_outside_the_plausible_window_are_422_with_a_reason(
    client: httpx.AsyncClient, sink: FakeSink, date: str, reason: str
) -> None:
    """A report whose only row is dated outside the window: 422, the row's reason given."""
    status, body = await post_json(client, json.dumps({"systems": [row(date=date)]}).encode())
    assert status == 422
    [system] = body["systems"]
    assert system["success"] is False
    assert reason in system["messages"][0]
    assert [r.dead_letter for r in sink.records] == [True]


@pytest.mark.parametrize(
    ("value", "unit"),
    [("1e20", "Wh"), ("1e999999", "kWh"), ("9" * 5_000, "Wh"), ("9223372036854775808", "Wh")],
)
async def test_values_no_register_holds_are_422_at_once(
    client: httpx.AsyncClient, sink: FakeSink, value: str, unit: str
) -> None:
    """1e20 Wh, 1e999999 kWh, a 5,000-digit number and 2^63 Wh: 422 value_out_of_range
    at once (the old code answered 200 and crashed the worker, or froze for 34 s; the bound
    is 10 s so that a loaded machine's slow answer is not taken for the freeze)."""
    body = (
        b'{"systems": [{"systemId": "S-1", "meterValue": %s, "unit": "%s", "meterDate": '
        b'"2026-11-30T23:45"}]}' % (value.encode(), unit.encode())
    )
    started = time.monotonic()
    status, answer = await post_json(client, body)
    assert time.monotonic() - started < 10.0
    assert status == 422
    assert "above" in answer["systems"][0]["messages"][0]
    [dead] = sink.records
    assert dict(dead.headers)["reason_code"] == b"value_out_of_range"
    assert dict(dead.headers)["origin"] == b"das-intake"


async def test_a_partly_refused_report_is_200_and_dead_letters_the_refused_rows(
    client: httpx.AsyncClient, sink: FakeSink, store: FakeStore
) -> None:
    """One good row, one 1e20 row: 200 (the good one is stored), the refused row travels as a
    bounded dead letter with the report id, and keeps its own code and reason."""
    status, body = await post_json(
        client, json.dumps({"systems": [row(), row(value="1e20", system="S-2")]}).encode()
    )
    assert status == 200
    assert [s["success"] for s in body["systems"]] == [True, False]
    readings = [r for r in sink.records if not r.dead_letter]
    [dead] = [r for r in sink.records if r.dead_letter]
    assert [r.key for r in readings] == [b"M-1"]
    headers = dict(dead.headers)
    assert headers["das_report_id"] == body["reportId"].encode()
    assert json.loads(dead.value) == {
        "systemId": "S-2",
        "rows": [{"row": 2, "meterValue": "1e20", "meterDate": "2026-11-30T23:45"}],
    }
    refused = store.rows[body["reportId"]][1]
    assert (refused.row_no, refused.intake_code) == (2, "value_out_of_range")
    assert refused.intake_reason is not None
    assert refused.intake_reason.startswith("meterValue 1e20 kWh is above the largest register")


async def test_a_five_thousand_row_backfill_is_split_into_records_that_fit(
    sink: FakeSink,
) -> None:
    """5,000 readings of one meter (1.6 MB as one batch): several records, each within the
    record limit, together every reading once."""
    start = datetime(2026, 10, 1, tzinfo=UTC)
    rows = [
        row(value=n, date=(start + timedelta(minutes=15 * n)).isoformat()) for n in range(5_000)
    ]
    async with client_for(sink, IntakeGuards(max_record_bytes=300_000)) as client:
        status, body = await post_json(client, json.dumps({"systems": rows}).encode())
    assert status == 200
    assert body["systems"][0]["recordsInserted"] == 5_000
    assert len(sink.records) > 1
    assert all(record_bytes(r) <= 300_000 for r in sink.records)
    energies = [
        r.energy_wh
        for rec in sink.records
        for r in ReadingBatch.model_validate_json(rec.value).readings
    ]
    assert energies == [n * 1_000 for n in range(5_000)]


async def test_requests_beyond_the_key_rate_are_429_with_retry_after(sink: FakeSink) -> None:
    """A key gets its burst, then 429 with Retry-After; another key of the same address is
    not held back by it; after waiting, the key is served again."""
    clock = Clock()
    guards = IntakeGuards(
        per_key=RateLimiter(rate_per_s=1.0, burst=2, clock=clock),
        per_address=RateLimiter(rate_per_s=100.0, burst=100, clock=clock),
    )
    body = {"systems": [row()]}
    async with client_for(sink, guards) as client:
        statuses = []
        for _ in range(3):
            resp = await client.post("/api/v1/das/reports", json=body, headers=KEY)
            statuses.append(resp.status_code)
        assert statuses == [200, 200, 429]
        assert resp.headers["Retry-After"] == "1"
        assert "rate" in resp.json()["error"]
        other = await client.post("/api/v1/das/reports", json=body, headers={"X-API-Key": "key-b"})
        assert other.status_code == 200
        clock.now += 1.0
        again = await client.post("/api/v1/das/reports", json=body, headers=KEY)
        assert again.status_code == 200


async def test_requests_beyond_the_address_rate_are_429_before_any_key_lookup(
    sink: FakeSink,
) -> None:
    """Made-up keys from one address: the address limit answers 429 (no database work)."""
    clock = Clock()
    guards = IntakeGuards(per_address=RateLimiter(rate_per_s=0.5, burst=3, clock=clock))
    async with client_for(sink, guards) as client:
        statuses = []
        for n in range(5):
            resp = await client.post(
                "/api/v1/das/reports", json={"systems": []}, headers={"X-API-Key": f"made-up-{n}"}
            )
            statuses.append(resp.status_code)
        assert statuses == [401, 401, 401, 429, 429]
        assert resp.headers["Retry-After"] == "2"


async def test_same_idempotency_key_and_body_is_answered_once(
    client: httpx.AsyncClient, sink: FakeSink, store: FakeStore
) -> None:
    """A retry with the same Idempotency-Key and body: the same answer (marked replayed),
    no second record; the same key with another body: 409 naming the first report."""
    body = json.dumps({"systems": [row()]}).encode()
    headers = {**KEY, "Content-Type": "application/json", "Idempotency-Key": "r-2026-11-30"}
    first = await client.post("/api/v1/das/reports", content=body, headers=headers)
    again = await client.post("/api/v1/das/reports", content=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(sink.records) == 1
    other = json.dumps({"systems": [row(value=11)]}).encode()
    clash = await client.post("/api/v1/das/reports", content=other, headers=headers)
    assert clash.status_code == 409
    assert clash.json()["code"] == "idempotency_key_reused"
    assert first.json()["reportId"] in clash.json()["message"]
    assert len(sink.records) == 1
    assert len(store.reports) == 1


async def test_a_report_kafka_refused_can_be_sent_again_with_its_key(store: FakeStore) -> None:
    """Kafka down: 503 and the claim is forgotten, so the retry with the same key is produced."""

    class DownOnce(FakeSink):
        def __init__(self) -> None:
            super().__init__()
            self.down = True

        async def send(self, record: Any) -> Any:
            if self.down:
                from ingest.errors import KafkaUnavailableError

                raise KafkaUnavailableError("Kafka at test is not reachable")
            return await super().send(record)

    sink = DownOnce()
    body = json.dumps({"systems": [row()]}).encode()
    headers = {**KEY, "Content-Type": "application/json", "Idempotency-Key": "k-1"}
    async with client_for(sink, store=store) as client:
        failed = await client.post("/api/v1/das/reports", content=body, headers=headers)
        sink.down = False
        retried = await client.post("/api/v1/das/reports", content=body, headers=headers)
    assert failed.status_code == 503
    assert failed.json()["code"] == "kafka_unavailable"
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried.headers
    assert len(sink.records) == 1


async def test_a_bad_idempotency_key_is_400(client: httpx.AsyncClient, sink: FakeSink) -> None:
    """An Idempotency-Key longer than 200 characters: 400, nothing produced."""
    resp = await client.post(
        "/api/v1/das/reports",
        json={"systems": [row()]},
        headers={**KEY, "Idempotency-Key": "k" * 201},
    )
    assert resp.status_code == 400
    assert resp.json()["code"] == "bad_idempotency_key"
    assert sink.records == []
