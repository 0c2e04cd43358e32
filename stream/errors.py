"""Why a message or a reading is refused.

    StreamError
    ├── RejectedError (PermanentError): the input can never be accepted; it goes to the
    │   dead-letter place with `reason_code` (machine-readable) and `reason` (for a person).
    └── StoreUnavailableError (TransientError): the database could not be reached or
        refused the transaction for a passing reason; the engine retries with backoff and
        does not acknowledge the input meanwhile.

Reason codes: schemas.reasons (one set for the bridge, the DAS intake and the stream,
each explained there); REDRIVABLE below is the stream's policy of which may be re-driven.
"""

from __future__ import annotations

from schemas.reasons import ReasonCode

__all__ = ["REDRIVABLE", "ReasonCode"]

# refusals whose cause may lie outside the payload (the registry, the clock, the producer's key,
# a setting, a fault):
# fixed there, the stored payload can be sent through again (stream.redrive)
REDRIVABLE = frozenset(
    {
        ReasonCode.UNKNOWN_METER,
        ReasonCode.PROVIDER_MISMATCH,
        ReasonCode.FUTURE_TIMESTAMP,
        ReasonCode.KEY_MISMATCH,
        ReasonCode.VALUE_OUT_OF_RANGE,  # against a modulus the registry may have wrong
        ReasonCode.TIMESTAMP_OUT_OF_RANGE,  # the window is a setting
        ReasonCode.PROCESSING_FAILED,  # the cause (a database fault, a bug) is fixed
        ReasonCode.TOPIC_INVALID,  # a valid batch the bridge could not route (owner checked)
        ReasonCode.UNSIGNED_BATCH,  # the registry may mark the meter signed by mistake
        ReasonCode.UNKNOWN_KEY,  # register the gateway's key, then re-drive
        ReasonCode.KEY_NOT_VALID,  # a validity period entered wrong
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
