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
    value_out_of_range  a register, modulus or sequence number beyond what a register or the
                        database holds (2^63 − 1, or ≥ the register's modulus when known)
    timestamp_out_of_range  stamped (or received) before the plausible window opens
                        (PTS_STREAM_EARLIEST_READING, default 2000-01-01)
    too_large           the message is larger than a record may be (PTS_STREAM_MAX_MESSAGE_BYTES);
                        its dead letter keeps a prefix, the SHA-256 and the size of the whole
    topic_invalid       (the bridge's) a message on a malformed MQTT topic; re-driven only when
                        the batch's source is the topic's owner (the level after the root)
    processing_failed   the message passed every check but storing it failed the bounded number
                        of attempts (PTS_STREAM_MAX_ATTEMPTS); parked with the error so the
                        messages behind it go on; re-drive it once the cause is fixed
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
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    TOO_LARGE = "too_large"
    PROCESSING_FAILED = "processing_failed"
    TOPIC_INVALID = "topic_invalid"


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
