"""Validation stages: one call shape, a decision per reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.reading import QualityFlag, Reading, Source
from stream.directory import MeterInfo, StaticDirectory
from stream.errors import ReasonCode
from stream.stages import (
    ClockSkewFlagger,
    Decision,
    Dedupe,
    KeyMatches,
    KnownMeter,
    NotAfter,
    NotInFuture,
    ProviderOwnsMeter,
    Stage,
    Verdict,
    default_pipeline,
    run_pipeline,
)

T = datetime(2026, 3, 10, 15, tzinfo=UTC)
DIRECTORY = StaticDirectory(
    [MeterInfo("M1", "S1", "America/New_York", Decimal("50"), 2**32, "das-a")]
)


def reading(meter_id: str = "M1", wh: int = 1_000, **kw: object) -> Reading:
    fields: dict[str, object] = {
        "meter_id": meter_id,
        "ts": T,
        "energy_wh": wh,
        "source": Source.DAS,
        "source_id": "das-a",
        "seq": 1,
        "received_at": T,
    }
    fields.update(kw)
    return Reading.model_validate(fields)


def decide(stage: Stage, r: Reading) -> Decision:
    """What a pipeline of this one stage decides (a stage alone returns None to pass)."""
    return run_pipeline([stage], r)


def test_known_meter_accepts_a_registered_meter() -> None:
    """A registered meter passes unchanged."""
    r = reading()
    assert KnownMeter(DIRECTORY)(r) is None
    assert decide(KnownMeter(DIRECTORY), r) == Decision(Verdict.ACCEPT, r)


def test_unknown_meter_is_rejected_with_its_reason() -> None:
    """An unregistered meter is refused and told to register."""
    d = decide(KnownMeter(DIRECTORY), reading("M9"))
    assert (d.verdict, d.code) == (Verdict.REJECT, ReasonCode.UNKNOWN_METER)
    assert d.reason == "meter 'M9' is not registered; register it before reporting"


def test_a_provider_may_not_report_another_providers_meter() -> None:
    """das-b reporting das-a's meter is refused, and so is a gateway gw-1 reporting it: the
    system's reporting party of record (systems.das_provider_id, a provider's or a
    gateway's id) alone may report its meters."""
    foreign = decide(ProviderOwnsMeter(DIRECTORY), reading(source_id="das-b"))
    assert (foreign.verdict, foreign.code) == (Verdict.REJECT, ReasonCode.PROVIDER_MISMATCH)
    gateway = decide(ProviderOwnsMeter(DIRECTORY), reading(source=Source.GATEWAY, source_id="gw-1"))
    assert (gateway.verdict, gateway.code) == (Verdict.REJECT, ReasonCode.PROVIDER_MISMATCH)
    assert gateway.reason == (
        "gateway 'gw-1' reported meter 'M1', which is reported by 'das-a'; only the system's "
        "reporting party of record may report it"
    )
    own = StaticDirectory([MeterInfo("G1", "S2", "America/New_York", Decimal("5"), None, "gw-1")])
    assert ProviderOwnsMeter(own)(reading("G1", source=Source.GATEWAY, source_id="gw-1")) is None
    manual = StaticDirectory([MeterInfo("X1", "S3", "America/New_York", Decimal("5"), None, None)])
    refused = decide(
        ProviderOwnsMeter(manual), reading("X1", source=Source.GATEWAY, source_id="gw-1")
    )
    assert refused.code is ReasonCode.PROVIDER_MISMATCH


def test_timestamp_later_than_receipt_plus_tolerance_is_refused() -> None:
    """15 minutes of tolerance: 15 min ahead passes, 15 min 1 s ahead does not."""
    stage = NotInFuture(timedelta(minutes=15))
    ok = reading(ts=T + timedelta(minutes=15))
    late = reading(ts=T + timedelta(minutes=15, seconds=1))
    assert stage(ok) is None
    assert (decide(stage, late).verdict, decide(stage, late).code) == (
        Verdict.REJECT,
        ReasonCode.FUTURE_TIMESTAMP,
    )


def test_timestamp_after_processing_time_is_refused() -> None:
    """NotAfter compares with the instant the engine hands it."""
    stage = NotAfter(T, timedelta(minutes=5))
    assert stage(reading(ts=T + timedelta(minutes=5))) is None
    assert decide(stage, reading(ts=T + timedelta(minutes=6))).code is ReasonCode.FUTURE_TIMESTAMP


def test_clock_skew_is_flagged_not_refused() -> None:
    """Received 6 minutes after its stamp: accepted with CLOCK_SKEW; the hash is unchanged."""
    r = reading(received_at=T + timedelta(minutes=6))
    d = decide(ClockSkewFlagger(timedelta(minutes=5)), r)
    assert d.verdict is Verdict.ACCEPT
    assert d.reading.flags == {QualityFlag.CLOCK_SKEW}
    assert d.reading.content_hash == r.content_hash


def test_replayed_readings_are_not_skewed() -> None:
    """A spool replay is late on purpose."""
    r = reading(received_at=T + timedelta(hours=6), flags={QualityFlag.REPLAYED})
    assert decide(ClockSkewFlagger(), r).reading.flags == {QualityFlag.REPLAYED}


def test_key_must_name_the_meter() -> None:
    """A Kafka key for another meter is refused; no key is not checked."""
    assert decide(KeyMatches(b"M2"), reading()).code is ReasonCode.KEY_MISMATCH
    assert KeyMatches(None)(reading()) is None


def test_dedupe_tells_duplicates_from_conflicts() -> None:
    """Same key and hash: duplicate; same key, other hash: conflict."""
    stage = Dedupe()
    assert stage(reading()) is None
    assert decide(stage, reading()).verdict is Verdict.DUPLICATE
    assert decide(stage, reading(wh=1_001)).verdict is Verdict.CONFLICT


def test_pipeline_stops_at_the_first_refusal() -> None:
    """Unknown meter wins over the future timestamp that comes later in the list."""
    r = reading("M9", ts=T + timedelta(hours=1))
    assert run_pipeline(default_pipeline(DIRECTORY), r).code is ReasonCode.UNKNOWN_METER


def test_pipeline_passes_the_flagged_reading_on() -> None:
    """A stage's changed reading is what the next stage and the caller see."""
    r = reading(received_at=T + timedelta(minutes=30))
    d = run_pipeline(default_pipeline(DIRECTORY), r)
    assert (d.verdict, d.reading.flags) == (Verdict.ACCEPT, frozenset({QualityFlag.CLOCK_SKEW}))
