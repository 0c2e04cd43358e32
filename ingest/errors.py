"""Why ingest refuses a message or stops.

    IngestError
    ├── TransientError            retry (the bridge exits non-zero; the broker redelivers)
    │   └── KafkaUnavailableError Kafka did not acknowledge a produce in time
    ├── PermanentError            retrying the same input will not help
    │   ├── EnvelopeError         an MQTT payload failed the envelope check → readings.dead-letter
    │   └── IntakeError           a REST/CSV report cannot be read at all (HTTP 400)
    ├── AuthenticationError       an unknown or revoked DAS API key (HTTP 401)
    └── ConfigError               the ingest configuration is wrong (bad topic template, username)

An envelope refusal carries a reason code (header `reason_code` on readings.dead-letter):
malformed_json, schema_invalid, topic_invalid, topic_mismatch or too_large, from the one set
the stream uses too (schemas.reasons, where each is explained).
"""

from __future__ import annotations

from schemas.reasons import ReasonCode

__all__ = ["ReasonCode"]


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
