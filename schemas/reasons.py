"""Why a message or a reading was refused: the one set of dead-letter reason codes.

The bridge (ingest), the DAS intake and the stream all refuse with these codes; the code
travels in the dead letter's `reason_code` header and column (docs/analysts.md), and
`pts stream redrive --reason CODE` takes it back. Which codes may be re-driven is the
stream's policy (stream.errors.REDRIVABLE).

    malformed_json          the bytes are not JSON
    schema_invalid          JSON, but not a valid ReadingBatch (fields, version, meter ids)
    negative_register       a reading carries a negative register value
    topic_invalid           (bridge) the MQTT topic does not have the readings-topic shape;
                            re-driven only when the batch's source is the topic's owner
    topic_mismatch          (bridge) the topic's gateway/provider/meter is not the payload's
    too_large               larger than a Kafka record may be (the bridge's limit) or than
                            PTS_STREAM_MAX_MESSAGE_BYTES; the dead letter keeps a prefix,
                            the SHA-256 and the size of the whole
    unknown_meter           the meter is not in the registry
    provider_mismatch       a DAS provider sent a reading for a meter it does not report
    future_timestamp        stamped later than the receive time plus the tolerance
    key_mismatch            the Kafka key names another meter than the readings
    value_out_of_range      a register, modulus or sequence number beyond what a register or
                            the database holds (2^63 − 1, or ≥ the register's modulus)
    timestamp_out_of_range  stamped (or received) before the plausible window opens
                            (PTS_STREAM_EARLIEST_READING, default 2000-01-01)
    processing_failed       passed every check, but storing it failed the bounded number of
                            attempts (PTS_STREAM_MAX_ATTEMPTS): parked so the partition goes on
    unsigned_batch          a meter registered as signed, a batch without a signature
    bad_signature           the signature does not verify over the readings (altered, forged,
                            or signed for another sender)
    unknown_key             signed by a key the registry does not hold for the sender
    key_revoked             signed by a key revoked before the batch was checked
    key_not_valid           signed by a key outside its validity period (rotation)
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """A refusal's machine-readable reason (the module docstring says what each means)."""

    MALFORMED_JSON = "malformed_json"
    SCHEMA_INVALID = "schema_invalid"
    NEGATIVE_REGISTER = "negative_register"
    TOPIC_INVALID = "topic_invalid"
    TOPIC_MISMATCH = "topic_mismatch"
    TOO_LARGE = "too_large"
    UNKNOWN_METER = "unknown_meter"
    PROVIDER_MISMATCH = "provider_mismatch"
    FUTURE_TIMESTAMP = "future_timestamp"
    KEY_MISMATCH = "key_mismatch"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    PROCESSING_FAILED = "processing_failed"
    UNSIGNED_BATCH = "unsigned_batch"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    KEY_REVOKED = "key_revoked"
    KEY_NOT_VALID = "key_not_valid"
