"""Bytes in, a ReadingBatch out, or a refusal that says what was wrong."""

from __future__ import annotations

from pydantic import ValidationError

from schemas.reading import ReadingBatch
from stream.errors import ReasonCode, RejectedError


def decode_batch(payload: bytes) -> ReadingBatch:
    """Parse one message; raise RejectedError(malformed_json | negative_register | schema_invalid).

    pydantic validates here, at the edge, parsing the JSON in its Rust core (about twice as
    fast as json.loads + model_validate); the core works on the validated models after it.
    """
    try:
        return ReadingBatch.model_validate_json(payload)
    except ValidationError as exc:
        errors = exc.errors()
        if errors and errors[0]["type"] == "json_invalid":
            raise RejectedError(ReasonCode.MALFORMED_JSON, f"not JSON: {errors[0]['msg']}") from exc
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in errors[:5]
        )
        more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        negative = any(
            err["loc"][-1:] == ("energy_wh",) and err["type"] == "greater_than_equal"
            for err in errors
        )
        code = ReasonCode.NEGATIVE_REGISTER if negative else ReasonCode.SCHEMA_INVALID
        raise RejectedError(code, f"not a valid reading batch: {problems}{more}") from exc
