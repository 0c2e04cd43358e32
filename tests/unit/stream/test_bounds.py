"""Bounds before work: the core refuses what no register, clock or database can hold."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from schemas.reading import Reading, ReadingBatch, Source
from stream.core import Core
from stream.directory import MeterInfo, StaticDirectory
from stream.errors import ReasonCode
from stream.stages import Decision, Limits
from tests.fuzz.budget import fuzz_settings

T = datetime(2026, 3, 10, 15, tzinfo=UTC)
METERS = [
    MeterInfo("M1", "S1", "America/New_York", Decimal(50), None, "d"),
    MeterInfo("M32", "S2", "America/New_York", Decimal(50), 2**32, "d"),
]
CORE = Core(StaticDirectory(METERS))
BIGINT = 2**63 - 1


def reading(meter_id: str = "M1", ts: datetime = T, wh: int = 10, **extra: object) -> Reading:
    fields: dict[str, object] = {
        "meter_id": meter_id,
        "ts": ts,
        "energy_wh": wh,
        "source": Source.DAS,
        "source_id": "d",
        "seq": 1,
        "received_at": T,
    }
    return Reading.model_validate(fields | extra)


def batch(*readings: Reading, source_id: str = "d") -> bytes:
    return (
        ReadingBatch(
            batch_id="b1", source=Source.DAS, source_id=source_id, sent_at=T, readings=readings
        )
        .model_dump_json()
        .encode()
    )


def codes(payload: bytes, core: Core = CORE) -> list[tuple[ReasonCode, str | None]]:
    return [(x.code, x.meter_id) for x in core.triage(payload, now=T).rejects]


def test_a_register_beyond_bigint_is_refused_before_any_database_work() -> None:
    """1e20 Wh cannot be a bigint: refused value_out_of_range, the good reading kept."""
    got = CORE.triage(batch(reading(wh=10**20), reading(ts=T + timedelta(minutes=15))), now=T)
    assert [(x.code, x.meter_id) for x in got.rejects] == [(ReasonCode.VALUE_OUT_OF_RANGE, "M1")]
    assert "100000000000000000000" in got.rejects[0].reason
    assert str(BIGINT) in got.rejects[0].reason
    assert [x.ts for x in got.to_write] == [T + timedelta(minutes=15)]


def test_the_largest_bigint_register_passes() -> None:
    """2^63 − 1 Wh is the largest register stored; it is accepted when no modulus is known."""
    assert codes(batch(reading(wh=BIGINT))) == []


def test_a_register_at_or_above_its_modulus_is_refused() -> None:
    """A register wraps to 0 at its modulus, so it never reads the modulus itself."""
    own = reading(wh=1_000, register_modulus_wh=1_000)
    assert codes(batch(own)) == [(ReasonCode.VALUE_OUT_OF_RANGE, "M1")]
    assert codes(batch(reading(wh=999, register_modulus_wh=1_000))) == []
    registry = reading("M32", wh=2**32)  # the registry's modulus when the reading has none
    assert codes(batch(registry)) == [(ReasonCode.VALUE_OUT_OF_RANGE, "M32")]
    assert codes(batch(reading("M32", wh=2**32 - 1))) == []


def test_a_modulus_or_sequence_beyond_bigint_is_refused() -> None:
    """seq and register_modulus_wh are stored as bigint too."""
    assert codes(batch(reading(seq=2**63))) == [(ReasonCode.VALUE_OUT_OF_RANGE, "M1")]
    assert codes(batch(reading(wh=5, register_modulus_wh=2**63))) == [
        (ReasonCode.VALUE_OUT_OF_RANGE, "M1")
    ]


def test_readings_before_the_plausible_window_are_refused() -> None:
    """1900-01-01 is refused timestamp_out_of_range (no partition, no day walk)."""
    old = reading(ts=datetime(1900, 1, 1, tzinfo=UTC))
    got = CORE.triage(batch(old), now=T)
    assert [(x.code, x.meter_id) for x in got.rejects] == [
        (ReasonCode.TIMESTAMP_OUT_OF_RANGE, "M1")
    ]
    assert "2000-01-01" in got.rejects[0].reason
    assert codes(batch(reading(received_at=datetime(1, 1, 1, tzinfo=UTC)))) == [
        (ReasonCode.TIMESTAMP_OUT_OF_RANGE, "M1")
    ]


def test_the_plausible_window_is_a_setting() -> None:
    """With the window opening in 1990, a 1995 reading passes; 1989 does not."""
    core = Core(StaticDirectory(METERS), limits=Limits(earliest=datetime(1990, 1, 1, tzinfo=UTC)))
    assert codes(batch(reading(ts=datetime(1995, 6, 1, tzinfo=UTC))), core) == []
    assert codes(batch(reading(ts=datetime(1989, 12, 31, tzinfo=UTC))), core) == [
        (ReasonCode.TIMESTAMP_OUT_OF_RANGE, "M1")
    ]


def test_readings_after_the_future_tolerance_are_refused() -> None:
    """9999-12-31 is refused future_timestamp."""
    far = reading(
        ts=datetime(9999, 12, 31, tzinfo=UTC), received_at=datetime(9999, 12, 31, tzinfo=UTC)
    )
    assert codes(batch(far)) == [(ReasonCode.FUTURE_TIMESTAMP, "M1")]


def test_nul_in_a_source_id_is_refused() -> None:
    """PostgreSQL text cannot hold NUL: refused schema_invalid with a reason, not a crash."""
    bad = reading(source_id="d\x00x")
    got = CORE.triage(batch(bad, source_id="d\x00x"), now=T)
    assert [x.code for x in got.rejects] == [ReasonCode.SCHEMA_INVALID]
    assert "NUL" in got.rejects[0].reason


def test_deep_nesting_is_malformed_json_not_a_recursion_error() -> None:
    """100,000 nested arrays are refused malformed_json."""
    deep = b"[" * 100_000 + b"]" * 100_000
    got = CORE.triage(deep, now=T)
    assert [x.code for x in got.rejects] == [ReasonCode.MALFORMED_JSON]


def test_an_oversized_message_is_refused_and_its_dead_letter_is_bounded() -> None:
    """A message above the record limit is refused too_large; the dead letter keeps a prefix
    and the SHA-256 and size of the whole payload."""
    core = Core(StaticDirectory(METERS), limits=Limits(max_message_bytes=1_000))
    payload = batch(*(reading(ts=T + timedelta(minutes=i)) for i in range(20)))
    got = core.triage(payload, now=T)
    assert len(payload) > 1_000
    [reject] = got.rejects
    assert reject.code is ReasonCode.TOO_LARGE
    assert got.to_write == []
    assert len(reject.payload) <= 1_000
    assert payload.startswith(reject.payload)
    assert reject.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert reject.payload_bytes == len(payload)


def test_limits_are_checked_before_the_registry() -> None:
    """An unknown meter with an absurd value says value_out_of_range (bounds come first)."""
    data = json.loads(batch(reading(wh=10**20)))
    data["readings"][0]["meter_id"] = "NOPE"
    data["readings"][0]["content_hash"] = ""
    assert codes(json.dumps(data).encode()) == [(ReasonCode.VALUE_OUT_OF_RANGE, "NOPE")]


def test_a_stage_that_fails_parks_that_reading_not_the_partition() -> None:
    """A stage raising on one reading (a bug, a value no rule foresaw) refuses that reading
    processing_failed with the error; the others of the message pass."""

    def fragile(reading: Reading) -> Decision | None:  # the Stage protocol's parameter name
        if reading.energy_wh == 13:
            raise ArithmeticError("unlucky register")
        return None

    core = Core(StaticDirectory(METERS), stages=[fragile])
    got = core.triage(batch(reading(wh=13), reading(ts=T + timedelta(minutes=15))), now=T)
    assert [(x.code, x.meter_id) for x in got.rejects] == [(ReasonCode.PROCESSING_FAILED, "M1")]
    assert "ArithmeticError: unlucky register" in got.rejects[0].reason
    assert [x.ts for x in got.to_write] == [T + timedelta(minutes=15)]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
_FIELDS = ["meter_id", "ts", "energy_wh", "seq", "received_at", "source_id",
           "register_modulus_wh", "content_hash", "flags", "event"]  # fmt: skip


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """Bytes, JSON, or a real batch with some reading fields replaced by anything (huge
    integers and far dates included)."""
    kind = draw(st.sampled_from(["bytes", "json", "batch"]))
    if kind == "bytes":
        return draw(st.binary(max_size=1_000))
    if kind == "json":
        return json.dumps(draw(_json_values)).encode()
    data = json.loads(batch(reading(), reading(ts=T + timedelta(minutes=15))))
    for _ in range(draw(st.integers(0, 3))):
        value = draw(
            _json_values
            | st.integers(min_value=-(2**70), max_value=2**70)
            | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
        )
        data["readings"][draw(st.integers(0, 1))][draw(st.sampled_from(_FIELDS))] = value
    return json.dumps(data).encode()


@fuzz_settings  # PTS_FUZZ_EXAMPLES (200 in CI; bench/fuzz.py runs more)
@given(payload=messages())
def test_fuzz_the_core_gives_readings_within_bounds_or_refusals_with_a_reason(
    payload: bytes,
) -> None:
    """Whatever a Kafka message holds: readings that fit the database and the window, or
    refusals with a code and a reason; no other exception."""
    got = CORE.triage(payload, now=T)
    for reject in got.rejects:
        assert reject.reason
        assert isinstance(reject.code, ReasonCode)
    for r in got.to_write:
        assert 0 <= r.energy_wh <= BIGINT
        assert 0 <= r.seq <= BIGINT
        assert datetime(2000, 1, 1, tzinfo=UTC) <= r.ts <= T + timedelta(minutes=15)
        assert "\x00" not in r.source_id
