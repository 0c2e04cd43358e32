"""Bytes in, a ReadingBatch out, or a refusal that says what was wrong."""

from __future__ import annotations

import json

from pydantic import ValidationError

from schemas.reading import ReadingBatch
from stream.errors import ReasonCode, RejectedError


def decode_batch(payload: bytes) -> ReadingBatch:
    """Parse one message; raise RejectedError(malformed_json | schema_invalid)."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RejectedError(ReasonCode.MALFORMED_JSON, f"not JSON: {exc}") from exc
    try:
        return ReadingBatch.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise RejectedError(
            ReasonCode.SCHEMA_INVALID, f"not a valid reading batch: {problems}{more}"
        ) from exc
