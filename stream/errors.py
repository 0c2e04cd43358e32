"""Why a message or a reading is refused.

    StreamError
    └── RejectedError (PermanentError): the input can never be accepted; it goes to the
        dead-letter place with `reason_code` (machine-readable) and `reason` (for a person).

Reason codes (stable, documented in docs/analysts.md):
    malformed_json      the bytes are not JSON
    schema_invalid      JSON, but not a valid ReadingBatch (wrong types, missing fields, …)
    unknown_meter       the meter is not in the registry
    provider_mismatch   a DAS provider sent a reading for a meter it does not report
    future_timestamp    the reading is stamped later than the receive time plus the tolerance
    key_mismatch        the Kafka key names another meter than the readings
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    MALFORMED_JSON = "malformed_json"
    SCHEMA_INVALID = "schema_invalid"
    UNKNOWN_METER = "unknown_meter"
    PROVIDER_MISMATCH = "provider_mismatch"
    FUTURE_TIMESTAMP = "future_timestamp"
    KEY_MISMATCH = "key_mismatch"


class StreamError(Exception):
    """Base of stream errors."""


class RejectedError(StreamError):
    """Permanent: the input is refused with a reason and goes to the dead-letter place."""

    def __init__(self, code: ReasonCode, reason: str) -> None:
        super().__init__(f"{code.value}: {reason}")
        self.code = code
        self.reason = reason
