"""Why a message or a reading is refused.

    StreamError
    ├── RejectedError (PermanentError): the input can never be accepted; it goes to the
    │   dead-letter place with `reason_code` (machine-readable) and `reason` (for a person).
    └── StoreUnavailableError (TransientError): the database could not be reached or
        refused the transaction for a passing reason; the engine retries with backoff and
        does not acknowledge the input meanwhile.

Reason codes (stable, documented in docs/analysts.md):
    malformed_json      the bytes are not JSON
    schema_invalid      JSON, but not a valid ReadingBatch (wrong types, missing fields, …)
    negative_register   a reading carries a negative register value
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
    NEGATIVE_REGISTER = "negative_register"
    UNKNOWN_METER = "unknown_meter"
    PROVIDER_MISMATCH = "provider_mismatch"
    FUTURE_TIMESTAMP = "future_timestamp"
    KEY_MISMATCH = "key_mismatch"


# refusals whose cause lies outside the payload (the registry, the clock, the producer's key):
# fixed there, the stored payload can be sent through again (stream.redrive)
REDRIVABLE = frozenset(
    {
        ReasonCode.UNKNOWN_METER,
        ReasonCode.PROVIDER_MISMATCH,
        ReasonCode.FUTURE_TIMESTAMP,
        ReasonCode.KEY_MISMATCH,
    }
)


class StreamError(Exception):
    """Base of stream errors."""


class PermanentError(StreamError):
    """Retrying cannot help: the input goes to the dead-letter place."""


class TransientError(StreamError):
    """Retrying later may help: do not acknowledge the input."""


class RejectedError(PermanentError):
    """The input is refused with a reason and goes to the dead-letter place."""

    def __init__(self, code: ReasonCode, reason: str) -> None:
        super().__init__(f"{code.value}: {reason}")
        self.code = code
        self.reason = reason


class StoreUnavailableError(TransientError):
    """The database is unreachable or aborted the transaction for a passing reason."""
