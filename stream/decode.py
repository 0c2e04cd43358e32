"""Bytes in, a ReadingBatch out, or a refusal that says what was wrong (schemas.envelope).

A batch refused only because some of its readings are malformed (a negative register, a
meter id no registry can hold, a wrong type) is salvaged by `salvage`: its valid readings
form the batch and each malformed one is refused alone, with its own reason. A signed batch
stands or falls whole (its signature covers every reading), as does one whose envelope is
wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas.envelope import EnvelopeDecodeError
from schemas.envelope import decode_batch as decode_envelope
from schemas.reading import Reading, ReadingBatch
from stream.errors import ReasonCode, RejectedError


def decode_batch(payload: bytes) -> ReadingBatch:
    """Parse one message; raise RejectedError (malformed_json, negative_register or
    schema_invalid)."""
    try:
        return decode_envelope(payload)
    except EnvelopeDecodeError as exc:
        raise RejectedError(ReasonCode(exc.code), exc.reason) from exc


@dataclass(frozen=True, slots=True)
class BadReading:
    """A malformed reading of a salvaged batch: its place, its JSON and why it is refused."""

    index: int
    payload: bytes
    meter_id: str | None
    code: ReasonCode
    reason: str


def salvage(payload: bytes) -> tuple[ReadingBatch, list[BadReading]] | None:
    """The batch of a message's valid readings and its malformed ones, or None when the
    message cannot be salvaged (not a JSON object with a list of readings, signed, every
    reading malformed or none, or an envelope still refused with the valid readings)."""
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or document.get("signature") is not None:
        return None
    items = document.get("readings")
    if not isinstance(items, list):
        return None
    good: list[Any] = []
    bad: list[BadReading] = []
    for index, item in enumerate(items):
        body = json.dumps(item, separators=(",", ":")).encode()
        try:
            Reading.model_validate_json(body)
        except ValidationError as exc:
            bad.append(_bad_reading(index, item, body, exc))
            continue
        good.append(item)
    if not good or not bad:
        return None
    try:
        batch = ReadingBatch.model_validate_json(json.dumps({**document, "readings": good}))
    except ValidationError:
        return None
    return batch, bad


def _bad_reading(index: int, item: Any, body: bytes, exc: ValidationError) -> BadReading:
    errors = exc.errors()
    problems = "; ".join(
        f"readings[{index}].{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
        if err["loc"]
        else f"readings[{index}]: {err['msg']}"
        for err in errors[:5]
    )
    negative = any(
        err["loc"][-1:] == ("energy_wh",) and err["type"] == "greater_than_equal" for err in errors
    )
    meter_id = item.get("meter_id") if isinstance(item, dict) else None
    return BadReading(
        index,
        body,
        meter_id if isinstance(meter_id, str) else None,
        ReasonCode.NEGATIVE_REGISTER if negative else ReasonCode.SCHEMA_INVALID,
        f"not a valid reading: {problems}",
    )
