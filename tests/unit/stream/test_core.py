"""The core sorts a message into readings to write, duplicates and rejects (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.reading import Reading, ReadingBatch, Source
from stream.core import Core, Reject
from stream.directory import MeterInfo, StaticDirectory
from stream.errors import ReasonCode
from stream.stages import Limits

T = datetime(2026, 3, 10, 15, tzinfo=UTC)
CORE = Core(StaticDirectory([MeterInfo("M1", "S1", "America/New_York", Decimal(50), None, "d")]))


def r(meter_id: str, minutes: int, wh: int) -> Reading:
    ts = T + timedelta(minutes=minutes)
    return Reading(
        meter_id=meter_id,
        ts=ts,
        energy_wh=wh,
        source=Source.DAS,
        source_id="d",
        seq=minutes,
        received_at=ts,
    )


def batch(*readings: Reading) -> bytes:
    return (
        ReadingBatch(batch_id="b1", source=Source.DAS, source_id="d", sent_at=T, readings=readings)
        .model_dump_json()
        .encode()
    )


def test_sort_keeps_conflicts_drops_duplicates_and_rejects_unknown_meters() -> None:
    """One message: a reading, its duplicate, a conflicting repeat and an unknown meter."""
    unknown = r("M9", 0, 5)
    got = CORE.triage(batch(r("M1", 0, 10), r("M1", 0, 10), r("M1", 0, 11), unknown))
    assert [(x.meter_id, x.energy_wh) for x in got.to_write] == [("M1", 10), ("M1", 11)]
    assert got.duplicates == 1
    assert [(x.code, x.meter_id, x.payload) for x in got.rejects] == [
        (ReasonCode.UNKNOWN_METER, "M9", unknown.model_dump_json().encode())
    ]


def test_malformed_json_rejects_the_whole_message_with_its_bytes() -> None:
    """Bytes that are not JSON come back as one reject carrying the original payload."""
    got = CORE.triage(b"\xff{")
    assert got.to_write == []
    assert [(x.code, x.payload) for x in got.rejects] == [(ReasonCode.MALFORMED_JSON, b"\xff{")]


def test_wrong_types_say_where() -> None:
    """A string register is schema_invalid and the reason names the field."""
    data = json.loads(batch(r("M1", 0, 10)))
    data["readings"][0]["energy_wh"] = "lots"
    decoded = CORE.decode(json.dumps(data).encode())
    assert isinstance(decoded, Reject)
    assert decoded.code is ReasonCode.SCHEMA_INVALID
    assert decoded.reason.startswith("not a valid reading batch: readings.0.energy_wh: ")


def test_negative_register_has_its_own_code() -> None:
    """A negative register value is refused as negative_register."""
    data = json.loads(batch(r("M1", 0, 10)))
    data["readings"][0].update(energy_wh=-1, content_hash="")
    decoded = CORE.decode(json.dumps(data).encode())
    assert isinstance(decoded, Reject)
    assert decoded.code is ReasonCode.NEGATIVE_REGISTER


def test_future_readings_are_refused_against_the_engine_clock() -> None:
    """With `now`, a reading stamped 16 minutes later is refused."""
    got = CORE.triage(batch(r("M1", 16, 10)), now=T)
    assert [x.code for x in got.rejects] == [ReasonCode.FUTURE_TIMESTAMP]


def test_key_mismatch_rejects_each_reading_of_another_meter() -> None:
    """The Kafka key M2 does not name M1's reading."""
    got = CORE.triage(batch(r("M1", 0, 10)), key=b"M2")
    assert [x.code for x in got.rejects] == [ReasonCode.KEY_MISMATCH]


def test_limits_from_the_settings_reach_every_stage() -> None:
    """Future tolerance 5 min (not 15) and skew limit 10 min (not 5): a reading 6 min ahead
    of processing is refused, one received 6 min after its stamp is not flagged."""
    directory = StaticDirectory([MeterInfo("M1", "S1", "America/New_York", Decimal(50), None, "d")])
    core = Core(
        directory, limits=Limits(future=timedelta(minutes=5), clock_skew=timedelta(minutes=10))
    )
    ahead = r("M1", 6, 10)
    late = r("M1", 0, 5).model_copy(update={"received_at": T + timedelta(minutes=6)})
    got = core.triage(batch(late, ahead), now=T)
    assert [(x.energy_wh, x.flags) for x in got.to_write] == [(5, frozenset())]
    assert [x.code for x in got.rejects] == [ReasonCode.FUTURE_TIMESTAMP]
    assert [x.code for x in CORE.triage(batch(ahead), now=T).rejects] == []  # default: 15 min
