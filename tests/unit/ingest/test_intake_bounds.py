"""Bounds of the DAS intake, pure: whatever a report holds, a plan with reasons or a refusal
with a reason; the rate limiter's memory is bounded. (The HTTP answers to hostile reports, the
record splitting and the 429s are tested on the web service's routes:
tests/unit/web/test_das_intake.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ingest.das.intake import (
    IntakeLimits,
    SystemTarget,
    parse_csv_report,
    parse_json_report,
    plan_report,
)
from ingest.das.rate_limit import RateLimiter
from ingest.errors import IntakeError
from tests.fuzz.budget import fuzz_settings

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
TARGETS = {
    "S-1": SystemTarget("S-1", "acme", "America/New_York", ("M-1",)),
    "S-2": SystemTarget("S-2", "acme", "America/New_York", ("M-2",)),
}


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


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


@fuzz_settings  # PTS_FUZZ_EXAMPLES (200 in CI; bench/fuzz.py runs more)
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


@fuzz_settings  # PTS_FUZZ_EXAMPLES (200 in CI; bench/fuzz.py runs more)
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
