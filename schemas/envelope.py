"""The one codec of the reading batch envelope: gateway, bridge, stream and demo use it.

Wire format (JSON, `schemas.reading.ReadingBatch`): version 1 is the plain envelope; version
2 adds a per-reading `prev_hash` (the meter's hash chain) and a batch `signature`. Decoders
accept both; encoders write 1 when there is neither, so an unsigned batch reads as before.

Three ways in, one contract:
- `decode_batch`: the stream's full validation (pydantic, at the edge of the system);
- `peek_envelope` / `split_envelope`: the bridge's cheap look at the head (msgspec), which
  keeps each reading's bytes verbatim;
- `WireReading` / `encode_wire_batch`: the gateway's fast path from the JSON it spooled to
  the message it publishes (msgspec, no pydantic per reading).
`tests/unit/schemas/test_envelope.py` holds the wire structs to the pydantic models.

Canonical encoding (what a signature covers; docs/provenance.md):
- a reading's hash is SHA-256 of the compact JSON array `["pts-reading/2", meter_id, ts µs,
  energy_wh, source_id, seq, received_at µs, unit_id, scale_factor, [raw words...],
  prev_hash]` (instants as integer microseconds since the epoch, UTC; null for a missing
  value). Flags and the register modulus are left out: the stream adds them (CLOCK_SKEW, the
  registry's modulus) and they are not measurements;
- a batch's signing message is the JSON array `["pts-batch/2", batch_id, source, source_id,
  sent_at µs, key_id, n]`, a newline, then the n reading hashes (32 bytes each) in order.
Bounds: what `decode_batch` accepts is ReadingBatch's (1 to 10,000 readings, ids ≤ 128).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Protocol

import msgspec
from pydantic import ValidationError

from schemas.reading import SCHEMA_VERSION, SIGNED_SCHEMA_VERSION, BatchSignature, ReadingBatch

VERSIONS = frozenset({SCHEMA_VERSION, SIGNED_SCHEMA_VERSION})
READING_DOMAIN = "pts-reading/2"
BATCH_DOMAIN = "pts-batch/2"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_canonical = msgspec.json.Encoder()


class EnvelopeDecodeError(ValueError):
    """A payload that is not a reading batch: `code` is malformed_json, schema_invalid or
    negative_register (the names of the stream's and the bridge's reason codes)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


# -- canonical encoding --------------------------------------------------------------------


class ReadingFields(Protocol):
    """What a reading hash covers (schemas.Reading and WireReading both have it)."""

    @property
    def meter_id(self) -> str: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def energy_wh(self) -> int: ...
    @property
    def source_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def unit_id(self) -> int | None: ...
    @property
    def scale_factor(self) -> int | None: ...
    @property
    def raw_words(self) -> Sequence[int]: ...
    @property
    def prev_hash(self) -> str | None: ...


def micros(instant: datetime) -> int:
    """Integer microseconds since the epoch of an aware instant (exact, no float)."""
    return (instant - _EPOCH) // _MICRO


def reading_hash(reading: ReadingFields) -> bytes:
    """SHA-256 of the reading's canonical encoding (module docstring); covers prev_hash, so
    each reading's hash covers its predecessor's."""
    return hashlib.sha256(
        _canonical.encode(
            (
                READING_DOMAIN,
                reading.meter_id,
                micros(reading.ts),
                reading.energy_wh,
                reading.source_id,
                reading.seq,
                micros(reading.received_at),
                reading.unit_id,
                reading.scale_factor,
                tuple(reading.raw_words),
                reading.prev_hash,
            )
        )
    ).digest()


def signing_message(
    batch_id: str,
    source: str,
    source_id: str,
    sent_at: datetime,
    key_id: str,
    hashes: Sequence[bytes],
) -> bytes:
    """The bytes a batch signature covers: its head, then its readings' hashes in order."""
    head = _canonical.encode(
        (BATCH_DOMAIN, batch_id, source, source_id, micros(sent_at), key_id, len(hashes))
    )
    return head + b"\n" + b"".join(hashes)


def batch_signing_message(batch: ReadingBatch, key_id: str) -> tuple[bytes, list[bytes]]:
    """The signing message of a decoded batch, and its readings' hashes."""
    hashes = [reading_hash(r) for r in batch.readings]
    message = signing_message(
        batch.batch_id, batch.source.value, batch.source_id, batch.sent_at, key_id, hashes
    )
    return message, hashes


def sign_batch(batch: ReadingBatch, signer: Signer) -> ReadingBatch:
    """The batch (version 2) with `signer`'s signature over its signing message."""
    message, _ = batch_signing_message(batch, signer.key_id)
    signature = BatchSignature(key_id=signer.key_id, value=encode_signature(signer.sign(message)))
    return batch.model_copy(
        update={"schema_version": SIGNED_SCHEMA_VERSION, "signature": signature}
    )


class Signer(Protocol):
    """Signs signing messages with one key (gateways.signing.Ed25519Signer)."""

    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


def encode_signature(signature: bytes) -> str:
    return base64.b64encode(signature).decode()


def decode_signature(value: str) -> bytes:
    """The signature bytes of a BatchSignature.value (ValueError when not base64)."""
    return base64.b64decode(value, validate=True)


# -- full decode and encode (pydantic) ---------------------------------------------------


def decode_batch(payload: bytes) -> ReadingBatch:
    """Parse and validate one message; raise EnvelopeDecodeError saying what is wrong.

    pydantic parses the JSON in its Rust core (about twice as fast as json.loads +
    model_validate) and refuses nesting deeper than 200 levels.
    """
    try:
        return ReadingBatch.model_validate_json(payload)
    except ValidationError as exc:
        errors = exc.errors()
        if errors and errors[0]["type"] == "json_invalid":
            raise EnvelopeDecodeError("malformed_json", f"not JSON: {errors[0]['msg']}") from exc
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in errors[:5]
        )
        more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        negative = any(
            err["loc"][-1:] == ("energy_wh",) and err["type"] == "greater_than_equal"
            for err in errors
        )
        code = "negative_register" if negative else "schema_invalid"
        raise EnvelopeDecodeError(code, f"not a valid reading batch: {problems}{more}") from exc


def encode_batch(batch: ReadingBatch) -> bytes:
    """The JSON of a batch (absent values left out, so a version 1 batch stays version 1)."""
    return batch.model_dump_json(exclude_none=True).encode()


# -- the gateway's fast path (msgspec) -------------------------------------------------------


class WireReading(msgspec.Struct, forbid_unknown_fields=True):
    """A reading as JSON carries it (the fields of schemas.Reading, every one written)."""

    meter_id: str
    ts: datetime
    energy_wh: int
    source: str
    source_id: str
    seq: int
    received_at: datetime
    unit_id: int | None = None
    scale_factor: int | None = None
    raw_words: list[int] = []
    register_modulus_wh: int | None = None
    event: str | None = None
    flags: list[str] = []
    content_hash: str = ""
    prev_hash: str | None = None


class WireSignature(msgspec.Struct):
    key_id: str
    value: str


class WireBatch(msgspec.Struct, omit_defaults=True):
    """A batch as JSON carries it (the fields of schemas.ReadingBatch)."""

    schema_version: int
    batch_id: str
    source: str
    source_id: str
    sent_at: datetime
    readings: list[WireReading]
    signature: WireSignature | None = None


_wire_reading = msgspec.json.Decoder(WireReading)
_wire_encoder = msgspec.json.Encoder()


def decode_wire_reading(body: str | bytes) -> WireReading:
    """A reading's JSON (as the gateway spooled it) as a WireReading."""
    return _wire_reading.decode(body)


def encode_wire_reading(reading: WireReading) -> bytes:
    return _wire_encoder.encode(reading)


def encode_wire_batch(
    batch_id: str,
    source: str,
    source_id: str,
    sent_at: datetime,
    readings: list[WireReading],
    signer: Signer | None = None,
) -> bytes:
    """The JSON of a batch of wire readings, signed by `signer` when given (version 2 when
    signed or chained, else 1)."""
    signature = None
    if signer is not None:
        hashes = [reading_hash(r) for r in readings]
        message = signing_message(batch_id, source, source_id, sent_at, signer.key_id, hashes)
        signature = WireSignature(signer.key_id, encode_signature(signer.sign(message)))
    chained = signature is not None or any(r.prev_hash is not None for r in readings)
    version = SIGNED_SCHEMA_VERSION if chained else SCHEMA_VERSION
    return _wire_encoder.encode(
        WireBatch(version, batch_id, source, source_id, sent_at, readings, signature)
    )


# -- the bridge's look at the head (msgspec) -------------------------------------------------


_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class ReadingHead(msgspec.Struct):
    meter_id: str  # checked once per distinct id by the bridge (msgspec `pattern`: 2 µs a value)
    source: str
    source_id: str


class EnvelopeHead(msgspec.Struct, forbid_unknown_fields=True):
    """The envelope with only what routing needs of each reading."""

    batch_id: _Text
    source: str
    source_id: _Text
    sent_at: str
    readings: list[ReadingHead]
    schema_version: int = SCHEMA_VERSION
    signature: WireSignature | None = None

    @property
    def signed(self) -> bool:
        return self.signature is not None


class RawEnvelope(msgspec.Struct):
    """The envelope with each reading kept as its raw JSON (to split it verbatim)."""

    batch_id: str
    source: str
    source_id: str
    sent_at: str
    readings: list[msgspec.Raw]
    schema_version: int = SCHEMA_VERSION


_head_decoder = msgspec.json.Decoder(EnvelopeHead)
_raw_decoder = msgspec.json.Decoder(RawEnvelope)


def peek_envelope(payload: bytes) -> EnvelopeHead:
    """The head of a batch (EnvelopeDecodeError: malformed_json or schema_invalid)."""
    try:
        head = _head_decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise EnvelopeDecodeError("schema_invalid", f"not a reading batch envelope: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise EnvelopeDecodeError("malformed_json", f"not JSON: {exc}") from exc
    if head.schema_version not in VERSIONS:
        raise EnvelopeDecodeError(
            "schema_invalid",
            f"schema_version {head.schema_version} is not one of {sorted(VERSIONS)}",
        )
    return head


def split_envelope(payload: bytes) -> RawEnvelope:
    """The envelope with its readings as raw JSON (for a payload peek_envelope accepted)."""
    return _raw_decoder.decode(payload)


def encode_raw_envelope(envelope: RawEnvelope, readings: list[msgspec.Raw]) -> bytes:
    """An unsigned envelope with other readings (verbatim): what the bridge's split sends."""
    return _wire_encoder.encode(msgspec.structs.replace(envelope, readings=readings))
