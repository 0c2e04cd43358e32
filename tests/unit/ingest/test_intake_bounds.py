"""Bounds of the DAS intake: hostile reports get a 4xx with a reason, never a 500 or a frozen
server; large reports become records that fit the broker; rate limits answer 429."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.das.intake import (
    IntakeLimits,
    SystemTarget,
    parse_csv_report,
    parse_json_report,
    plan_report,
)
from ingest.das.rate_limit import RateLimiter
from ingest.das.server import IntakeGuards, make_app
from ingest.envelope import record_bytes
from ingest.errors import IntakeError
from schemas.reading import ReadingBatch
from tests.unit.ingest.fakes import FakeIntakeRegistry, FakeSink

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
TARGETS = {
    "S-1": SystemTarget("S-1", "acme", "America/New_York", ("M-1",)),
    "S-2": SystemTarget("S-2", "acme", "America/New_York", ("M-2",)),
}
KEY = {"X-API-Key": "key-acme"}


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def app_client(sink: FakeSink, guards: IntakeGuards | None = None) -> TestClient[Any, Any]:
    registry = FakeIntakeRegistry({"key-acme": "acme", "key-b": "acme"}, TARGETS)
    return TestClient(TestServer(make_app(registry, sink, lambda: NOW, guards)))


@pytest.fixture
def sink() -> FakeSink:
    return FakeSink()


@pytest.fixture
async def client(sink: FakeSink) -> AsyncIterator[TestClient[Any, Any]]:
    async with app_client(sink) as c:
        yield c


def row(
    value: object = 10, date: object = "2026-11-30T23:45", system: object = "S-1"
) -> dict[str, object]:
    return {"systemId": system, "meterValue": value, "meterDate": date}


async def post_json(client: TestClient[Any, Any], body: bytes) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        "/v1/reports", data=body, headers={**KEY, "Content-Type": "application/json"}
    )
    return resp.status, await resp.json()


async def test_nul_in_a_system_id_is_400_with_a_reason(
    client: TestClient[Any, Any], sink: FakeSink
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
        "/v1/reports",
        data="systemId,meterValue,meterDate\nS-\x001,1,2026-11-30T23:45\n",
        headers={**KEY, "Content-Type": "text/csv"},
    )
    assert resp.status == 400
    assert "control character (U+0000)" in (await resp.json())["error"]
    assert [r for r in sink.records if not r.dead_letter] == []
    assert [dict(r.headers)["reason_code"] for r in sink.records] == [b"malformed_report"] * 2


async def test_deeply_nested_json_is_400(client: TestClient[Any, Any], sink: FakeSink) -> None:
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
    client: TestClient[Any, Any], sink: FakeSink, date: str, reason: str
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
    client: TestClient[Any, Any], sink: FakeSink, value: str, unit: str
) -> None:
    """1e20 Wh, 1e999999 kWh, a 5,000-digit number and 2^63 Wh: 422 value_out_of_range
    within a second (the old code answered 200 and crashed the worker, or froze for 34 s)."""
    body = (
        b'{"systems": [{"systemId": "S-1", "meterValue": %s, "unit": "%s", "meterDate": '
        b'"2026-11-30T23:45"}]}' % (value.encode(), unit.encode())
    )
    started = time.monotonic()
    status, answer = await post_json(client, body)
    assert time.monotonic() - started < 1.0
    assert status == 422
    assert "above" in answer["systems"][0]["messages"][0]
    [dead] = sink.records
    assert dict(dead.headers)["reason_code"] == b"value_out_of_range"
    assert dict(dead.headers)["origin"] == b"das-intake"


async def test_a_partly_refused_report_is_200_and_dead_letters_the_refused_rows(
    client: TestClient[Any, Any], sink: FakeSink
) -> None:
    """One good row, one 1e20 row: 200 (the good one is stored), the refused row travels as a
    bounded dead letter with the report id."""
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


async def test_a_five_thousand_row_backfill_is_split_into_records_that_fit(
    sink: FakeSink,
) -> None:
    """5,000 readings of one meter (1.6 MB as one batch): several records, each within the
    record limit, together every reading once."""
    start = datetime(2026, 10, 1, tzinfo=UTC)
    rows = [
        row(value=n, date=(start + timedelta(minutes=15 * n)).isoformat()) for n in range(5_000)
    ]
    async with app_client(sink, IntakeGuards(max_record_bytes=300_000)) as client:
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
    async with app_client(sink, guards) as client:
        statuses = []
        for _ in range(3):
            resp = await client.post("/v1/reports", json=body, headers=KEY)
            statuses.append(resp.status)
        assert statuses == [200, 200, 429]
        assert resp.headers["Retry-After"] == "1"
        assert "rate" in (await resp.json())["error"]
        other = await client.post("/v1/reports", json=body, headers={"X-API-Key": "key-b"})
        assert other.status == 200
        clock.now += 1.0
        again = await client.post("/v1/reports", json=body, headers=KEY)
        assert again.status == 200


async def test_requests_beyond_the_address_rate_are_429_before_any_key_lookup(
    sink: FakeSink,
) -> None:
    """Made-up keys from one address: the address limit answers 429 (no database work)."""
    clock = Clock()
    guards = IntakeGuards(per_address=RateLimiter(rate_per_s=0.5, burst=3, clock=clock))
    async with app_client(sink, guards) as client:
        statuses = []
        for n in range(5):
            resp = await client.post(
                "/v1/reports", json={"systems": []}, headers={"X-API-Key": f"made-up-{n}"}
            )
            statuses.append(resp.status)
        assert statuses == [401, 401, 401, 429, 429]
        assert resp.headers["Retry-After"] == "2"


def test_rate_limiter_forgets_idle_keys_beyond_its_bound() -> None:
    """The limiter holds at most max_keys buckets (memory bounded under made-up keys)."""
    clock = Clock()
    limiter = RateLimiter(rate_per_s=1.0, burst=1, clock=clock, max_keys=100)
    for n in range(1_000):
        assert limiter.take(f"k{n}") == 0.0
    assert len(limiter) <= 100


_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["1e20", "1e999999", "-1", "NaN", "Infinity", "0.0001", "12.5"]),
)
_date = st.one_of(
    st.text(max_size=30),
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["9999-12-31", "0001-01-01", "2026-11-30T23:45", "2026-11-30T23:45Z"]),
)
_item = st.fixed_dictionaries(
    {"systemId": st.sampled_from(["S-1", "S-2", "S-9", "", "S-\x00"]) | st.text(max_size=8)},
    optional={
        "meterValue": _value,
        "meterDate": _date,
        "unit": st.sampled_from(["kWh", "Wh", "MWh", ""]) | st.text(max_size=4),
        "meterId": st.sampled_from(["M-1", "M-2", None]) | st.text(max_size=4),
    },
)


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["report", "bytes", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=500))
    if kind == "deep":
        depth = draw(st.integers(1, 20_000))
        return b'{"systems": ' + b"[" * depth + b"]" * depth + b"}"
    return json.dumps({"systems": draw(st.lists(_item, max_size=5))}).encode()


def _check_plan(rows: list[Any]) -> None:
    plan = plan_report("acme", rows, TARGETS, NOW, IntakeLimits())
    accepted = sum(len(b.readings) for _, b in plan.batches)
    assert accepted == sum(r.accepted for r in plan.results.values())
    for result in plan.results.values():
        assert len(result.messages) >= (1 if result.refused else 0)
        assert all(isinstance(m, str) and m for m in result.messages)
    for _, batch in plan.batches:
        assert all(
            NOW - timedelta(days=10_000) < r.ts <= NOW + timedelta(hours=1) for r in batch.readings
        )
        assert all(0 <= r.energy_wh <= 2**63 - 1 for r in batch.readings)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=json_bodies())
def test_fuzz_json_report_is_a_plan_or_a_refusal_with_a_reason(body: bytes) -> None:
    """Whatever the JSON body: rows planned into readings and refusals with reasons, or an
    IntakeError with a reason; no other exception."""
    try:
        rows = parse_json_report(body)
    except IntakeError as exc:
        refusal = str(exc)
    else:
        _check_plan(rows)
        return
    assert refusal


@st.composite
def csv_bodies(draw: st.DrawFn) -> str:
    header = draw(
        st.sampled_from(
            ["systemId,meterValue,meterDate", "systemId,meterValue,meterDate,unit,meterId"]
        )
        | st.text(max_size=40)
    )
    cells = st.text(max_size=12) | st.sampled_from(["S-1", "1e999999", "9999-12-31", "\x00"])
    lines = draw(st.lists(st.lists(cells, max_size=6).map(",".join), max_size=6))
    return "\n".join([header, *lines]) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=csv_bodies())
def test_fuzz_csv_report_is_a_plan_or_a_refusal_with_a_reason(text: str) -> None:
    """Whatever the CSV text: a plan with reasons, or an IntakeError with a reason."""
    try:
        rows = parse_csv_report(text)
    except IntakeError as exc:
        refusal = str(exc)
    else:
        _check_plan(rows)
        return
    assert refusal
