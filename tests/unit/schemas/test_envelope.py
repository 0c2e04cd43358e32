"""The one envelope codec: wire structs match the models, versions, canonical hashes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from gateways.signing import Ed25519Signer
from schemas.envelope import (
    EnvelopeDecodeError,
    WireBatch,
    WireReading,
    decode_batch,
    decode_signature,
    decode_wire_reading,
    encode_batch,
    encode_wire_batch,
    peek_envelope,
    reading_hash,
    signing_message,
)
from schemas.reading import Reading, ReadingBatch, Source

T0 = datetime(2026, 11, 1, 5, tzinfo=UTC)


def reading(i: int = 0, **update: object) -> Reading:
    values: dict[str, object] = {
        "meter_id": "M1",
        "ts": T0 + timedelta(minutes=5 * i),
        "energy_wh": 1_000 + i,
        "source": Source.GATEWAY,
        "source_id": "gw-1",
        "seq": 10 + i,
        "received_at": T0 + timedelta(minutes=5 * i, seconds=2),
        "unit_id": 1,
        "scale_factor": -1,
        "raw_words": (0, 10_000 + 10 * i),
        "register_modulus_wh": 2**32,
    }
    values.update(update)
    return Reading.model_validate(values)


def test_wire_structs_have_the_models_fields() -> None:
    """The msgspec wire structs carry exactly the fields of the pydantic models."""
    assert set(WireReading.__struct_fields__) == set(Reading.model_fields)
    assert set(WireBatch.__struct_fields__) == set(ReadingBatch.model_fields)


def test_an_unsigned_unchained_batch_stays_version_1_on_the_wire() -> None:
    """encode_batch writes version 1 without the new keys; decoding gives the batch back."""
    batch = ReadingBatch(
        batch_id="b1", source=Source.GATEWAY, source_id="gw-1", sent_at=T0,
        readings=(reading(0), reading(1)),
    )  # fmt: skip
    payload = encode_batch(batch)
    data = json.loads(payload)
    assert data["schema_version"] == 1
    assert "signature" not in data
    assert all("prev_hash" not in r for r in data["readings"])
    assert decode_batch(payload) == batch


def test_the_gateway_path_decodes_to_the_same_readings() -> None:
    """Spooled JSON → wire readings → batch bytes → decode_batch gives the readings back."""
    first = reading(0)
    second = reading(1, prev_hash=reading_hash(first).hex())
    wire = [decode_wire_reading(r.model_dump_json()) for r in (first, second)]
    payload = encode_wire_batch("b2", "gateway", "gw-1", T0, wire)
    batch = decode_batch(payload)
    assert batch.schema_version == 2
    assert batch.readings == (first, second)


def test_reading_hash_is_the_canonical_encoding() -> None:
    """The hash is SHA-256 of the documented array; pydantic and wire readings hash alike."""
    one = reading(0, prev_hash="ab" * 32)
    micros = 1_793_509_200_000_000  # 2026-11-01T05:00:00Z
    documented = [
        "pts-reading/2", "M1", micros, 1_000, "gw-1", 10, micros + 2_000_000, 1, -1,
        [0, 10_000], "ab" * 32,
    ]  # fmt: skip
    expected = hashlib.sha256(json.dumps(documented, separators=(",", ":")).encode()).digest()
    assert reading_hash(one) == expected
    assert reading_hash(decode_wire_reading(one.model_dump_json())) == reading_hash(one)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("meter_id", "M2"),
        ("ts", T0 + timedelta(seconds=1)),
        ("energy_wh", 1_001),
        ("seq", 11),
        ("received_at", T0 + timedelta(seconds=3)),
        ("unit_id", 2),
        ("scale_factor", 0),
        ("raw_words", (0, 10_001)),
        ("prev_hash", "0" * 64),
    ],
)
def test_every_covered_field_changes_the_hash(field: str, value: object) -> None:
    """Raw words, scale factor, unit id, sequence number, both clocks, the chain link…"""
    assert reading_hash(reading(0, **{field: value})) != reading_hash(reading(0))


def test_flags_and_modulus_are_not_covered() -> None:
    """The stream adds CLOCK_SKEW and the registry's modulus: they leave the hash alone."""
    assert reading_hash(reading(0, flags={"clock_skew"}, register_modulus_wh=None)) == (
        reading_hash(reading(0))
    )


def test_a_version_1_batch_cannot_carry_a_chain_link() -> None:
    """prev_hash or a signature in a version 1 envelope is refused as schema_invalid."""
    batch = ReadingBatch(
        schema_version=2, batch_id="b1", source=Source.GATEWAY, source_id="gw-1", sent_at=T0,
        readings=(reading(0, prev_hash="a" * 64),),
    )  # fmt: skip
    data = json.loads(encode_batch(batch))
    data["schema_version"] = 1
    with pytest.raises(EnvelopeDecodeError) as caught:
        decode_batch(json.dumps(data).encode())
    assert caught.value.code == "schema_invalid"
    assert "send schema_version 2" in caught.value.reason


def test_a_signed_batch_verifies_over_the_signing_message() -> None:
    """The signature covers the head and the readings' hashes; the bridge peek sees it."""
    signer = Ed25519Signer.of(Ed25519PrivateKey.generate())
    wire = [decode_wire_reading(reading(i).model_dump_json()) for i in range(3)]
    payload = encode_wire_batch("b3", "gateway", "gw-1", T0, wire, signer)
    assert peek_envelope(payload).signed
    batch = decode_batch(payload)
    assert batch.signature is not None
    assert batch.signature.key_id == signer.key_id
    message = signing_message(
        "b3", "gateway", "gw-1", T0, signer.key_id, [reading_hash(r) for r in batch.readings]
    )
    public = signer.private_key.public_key()
    public.verify(decode_signature(batch.signature.value), message)  # raises when wrong


def test_peek_refuses_what_is_not_an_envelope() -> None:
    """Not JSON → malformed_json; unknown field → schema_invalid."""
    with pytest.raises(EnvelopeDecodeError) as caught:
        peek_envelope(b"{nope")
    assert caught.value.code == "malformed_json"
    body = msgspec.json.encode({"batch_id": "b", "source": "gateway", "source_id": "g",
                                "sent_at": "x", "readings": [], "extra": 1})  # fmt: skip
    with pytest.raises(EnvelopeDecodeError) as caught:
        peek_envelope(body)
    assert caught.value.code == "schema_invalid"


Row = tuple[int, list[int], int | None, bool]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**40),
            st.lists(st.integers(0, 0xFFFF), max_size=4),
            st.sampled_from([None, -3, 0, 2]),
            st.booleans(),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_decode_of_the_gateway_encode_round_trips(rows: list[Row]) -> None:
    """Property: whatever the values, decode_batch(encode_wire_batch(x)) gives x's readings
    and their hashes (chained or not)."""
    readings = []
    prev = None
    for i, (wh, words, sf, chain) in enumerate(rows):
        r = reading(i, energy_wh=wh, raw_words=tuple(words), scale_factor=sf,
                    prev_hash=prev if chain else None)  # fmt: skip
        prev = reading_hash(r).hex()
        readings.append(r)
    wire = [decode_wire_reading(r.model_dump_json()) for r in readings]
    batch = decode_batch(encode_wire_batch("b", "gateway", "gw-1", T0, wire))
    assert batch.readings == tuple(readings)
    assert [reading_hash(r) for r in batch.readings] == [reading_hash(r) for r in readings]
