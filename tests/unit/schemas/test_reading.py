"""The reading contract: what it accepts, and what it refuses with a message a person can act on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas import QualityFlag, Reading, ReadingBatch, Source, content_hash
from schemas.jsonschema import export_json_schemas

TS = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def reading(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "meter_id": "MTR-1",
        "ts": "2026-11-01T05:00:00Z",
        "energy_wh": 123_456,
        "source": "gateway",
        "source_id": "gw-1",
        "seq": 7,
        "received_at": "2026-11-01T05:00:01Z",
    }
    data.update(overrides)
    return data


def errors_of(data: dict[str, object]) -> str:
    with pytest.raises(ValidationError) as caught:
        Reading.model_validate(data)
    return str(caught.value)


def test_valid_reading_is_normalised_to_utc_and_hashed() -> None:
    """A reading stamped in another offset is stored in UTC, with its content hash filled in."""
    r = Reading.model_validate(reading(ts="2026-11-01T01:00:00-04:00"))
    assert r.ts == TS
    assert r.ts.tzinfo is UTC
    assert r.content_hash == content_hash("MTR-1", TS, 123_456)
    assert len(r.content_hash) == 32


def test_hash_ignores_provenance() -> None:
    """The same measurement delivered by another path hashes alike (a duplicate, not a conflict)."""
    a = Reading.model_validate(reading())
    b = Reading.model_validate(reading(source_id="gw-2", seq=99, flags=["replayed"]))
    assert a.content_hash == b.content_hash
    assert b.flags == frozenset({QualityFlag.REPLAYED})


def test_hash_depends_on_value_and_time() -> None:
    """Another register value or another time gives another hash."""
    base = content_hash("MTR-1", TS, 1)
    assert content_hash("MTR-1", TS, 2) != base
    assert content_hash("MTR-1", TS + timedelta(seconds=1), 1) != base
    same_instant = TS.astimezone(timezone(timedelta(hours=-5)))
    assert content_hash("MTR-1", same_instant, 1) == base


def test_naive_timestamp_refused() -> None:
    """A timestamp without a time zone is refused: we cannot guess the meter's clock."""
    assert "timezone" in errors_of(reading(ts="2026-11-01T05:00:00")).lower()


def test_negative_register_refused() -> None:
    """A cumulative register is never negative."""
    assert "greater than or equal to 0" in errors_of(reading(energy_wh=-1))


def test_fractional_register_refused() -> None:
    """Energy is integer Wh; a fraction is refused rather than rounded."""
    assert "integer" in errors_of(reading(energy_wh=1.5))


def test_unknown_field_refused() -> None:
    """A misspelt field is an error, not silently dropped."""
    assert "extra" in errors_of(reading(energy_kwh=5)).lower()


def test_bad_meter_id_refused() -> None:
    """Meter ids are registry ids; spaces and slashes (MQTT topic separators) are refused."""
    assert "meter_id" in errors_of(reading(meter_id="a/b"))


def test_wrong_hash_refused() -> None:
    """A content hash that does not match the content says the payload was altered."""
    message = errors_of(reading(content_hash="0" * 32))
    assert "does not match" in message


def test_raw_words_are_16_bit() -> None:
    """Raw register words are 16-bit."""
    assert "raw_words" in errors_of(reading(raw_words=[70000]))


def test_batch_must_be_one_source() -> None:
    """A batch carries readings of one source only, and says which reading broke that rule."""
    good = reading()
    other = reading(source_id="gw-9", ts="2026-11-01T05:05:00Z")
    with pytest.raises(ValidationError) as caught:
        ReadingBatch.model_validate(
            {
                "batch_id": "b1",
                "source": "gateway",
                "source_id": "gw-1",
                "sent_at": "2026-11-01T05:06:00Z",
                "readings": [good, other],
            }
        )
    assert "readings[1] comes from gateway:gw-9" in str(caught.value)


def test_batch_schema_version_pinned() -> None:
    """An unknown schema version is refused."""
    with pytest.raises(ValidationError) as caught:
        ReadingBatch.model_validate(
            {
                "schema_version": 3,
                "batch_id": "b1",
                "source": Source.GATEWAY,
                "source_id": "gw-1",
                "sent_at": "2026-11-01T05:06:00Z",
                "readings": [reading()],
            }
        )
    assert "schema_version" in str(caught.value)


def test_batch_round_trips_through_json() -> None:
    """A batch serialised to JSON and parsed back is equal to itself."""
    batch = ReadingBatch.model_validate(
        {
            "batch_id": "b1",
            "source": "gateway",
            "source_id": "gw-1",
            "sent_at": "2026-11-01T05:06:00Z",
            "readings": [reading(), reading(ts="2026-11-01T05:05:00Z", energy_wh=123_999)],
        }
    )
    assert ReadingBatch.model_validate_json(batch.model_dump_json()) == batch


def test_json_schema_export(tmp_path: Path) -> None:
    """Every contract is exported as a JSON Schema file that names its required fields."""
    paths = export_json_schemas(tmp_path)
    names = sorted(p.name for p in paths)
    assert names == [
        "das_provider.schema.json",
        "meter.schema.json",
        "monthly_meter_energy.schema.json",
        "reading.schema.json",
        "reading_batch.schema.json",
        "registry.schema.json",
        "system.schema.json",
    ]
    schema = json.loads((tmp_path / "reading.schema.json").read_text())
    assert set(schema["required"]) == {
        "meter_id",
        "ts",
        "energy_wh",
        "source",
        "source_id",
        "seq",
        "received_at",
    }
