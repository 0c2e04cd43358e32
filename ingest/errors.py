"""Why ingest refuses a message or stops.

    IngestError
    ├── TransientError            retry (the bridge exits non-zero; the broker redelivers)
    │   └── KafkaUnavailableError Kafka did not acknowledge a produce in time
    ├── PermanentError            retrying the same input will not help
    │   ├── EnvelopeError         an MQTT payload failed the envelope check → readings.dead-letter
    │   └── IntakeError           a REST/CSV report cannot be read at all (HTTP 400)
    ├── AuthenticationError       an unknown or revoked DAS API key (HTTP 401)
    └── ConfigError               the ingest configuration is wrong (bad topic template, username)

Envelope reason codes (header `reason_code` on readings.dead-letter; the stream uses the same
codes for what it refuses later):
    malformed_json   the bytes are not JSON
    schema_invalid   JSON, but not the ReadingBatch envelope (fields, version, meter ids)
    topic_invalid    the MQTT topic does not have the readings-topic shape
    topic_mismatch   the topic's gateway/provider/meter is not the payload's
    too_large        the message (or one reading of it) cannot fit a Kafka record
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    MALFORMED_JSON = "malformed_json"
    SCHEMA_INVALID = "schema_invalid"
    TOPIC_INVALID = "topic_invalid"
    TOPIC_MISMATCH = "topic_mismatch"
    TOO_LARGE = "too_large"


class IngestError(Exception):
    """Base of ingest errors."""


class TransientError(IngestError):
    """Retry later; nothing was acknowledged."""


class KafkaUnavailableError(TransientError):
    """Kafka did not acknowledge a produce (or could not be reached)."""


class PermanentError(IngestError):
    """The input can never be accepted as it is."""


class EnvelopeError(PermanentError):
    """An MQTT payload failed the envelope check; it goes to the dead-letter topic."""

    def __init__(self, code: ReasonCode, reason: str) -> None:
        super().__init__(f"{code.value}: {reason}")
        self.code = code
        self.reason = reason


class IntakeError(PermanentError):
    """A REST/CSV report could not be read at all (not JSON, wrong columns)."""


class AuthenticationError(IngestError):
    """The API key is unknown or revoked."""


class ConfigError(IngestError):
    """The ingest configuration is wrong."""
