"""Bytes in, a ReadingBatch out, or a refusal that says what was wrong (schemas.envelope)."""

from __future__ import annotations

from schemas.envelope import EnvelopeDecodeError
from schemas.envelope import decode_batch as decode_envelope
from schemas.reading import ReadingBatch
from stream.errors import ReasonCode, RejectedError


def decode_batch(payload: bytes) -> ReadingBatch:
    """Parse one message; raise RejectedError (malformed_json, negative_register or
    schema_invalid)."""
    try:
        return decode_envelope(payload)
    except EnvelopeDecodeError as exc:
        raise RejectedError(ReasonCode(exc.code), exc.reason) from exc
