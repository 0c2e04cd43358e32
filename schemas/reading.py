"""A meter reading and the batch envelope it travels in.

A reading is one sample of a meter's *cumulative* energy register, in integer Wh, stamped
with the meter clock in UTC. Interval energy is never carried: it is derived downstream from
register differences. Provenance (who read it, how, with which raw words) travels with it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from schemas.ids import MeterId

SCHEMA_VERSION: Literal[1] = 1  # an envelope without chain links or signature
SIGNED_SCHEMA_VERSION: Literal[2] = 2  # readings may carry prev_hash, the batch a signature


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class Source(StrEnum):
    """Who delivered a reading."""

    GATEWAY = "gateway"  # our edge agent polling the meter over Modbus
    DAS = "das"  # a DAS provider's feed (broker, REST or CSV)
    MANUAL = "manual"  # a System Representative's monthly report
    AUDIT = "audit"  # a reading taken by staff on a site audit


class QualityFlag(StrEnum):
    """Flags a reading or a derived value carries; raw values are never changed, only flagged.

    One vocabulary for every `flags` column (readings, intervals, day and month rows); the
    last two are set only by the stream when it derives energy (stream.energy).
    """

    CLOCK_SKEW = "clock_skew"  # meter clock and gateway clock disagree beyond the limit
    ESTIMATED = "estimated"  # produced by estimation, not measured
    INTERPOLATED = "interpolated"  # apportioned across a boundary by linear interpolation
    EDITED = "edited"  # changed by an amendment
    ROLLOVER = "rollover"  # the register wrapped at its modulus before this reading
    RESET = "reset"  # the register was reset to zero before this reading
    METER_REPLACED = "meter_replaced"  # first reading of a new meter (opening read)
    REPLAYED = "replayed"  # delivered from a gateway spool after an outage
    NON_MONOTONIC = "non_monotonic"  # derived: the register went down without rollover/reset/swap
    IMPLAUSIBLE_POWER = "implausible_power"  # derived: mean power above capacity × tolerance


class ReadingEvent(StrEnum):
    """A lifecycle event marked on a reading (meter swap: closing read, then opening read)."""

    CLOSING = "closing"  # last reading of a meter being removed
    OPENING = "opening"  # first reading of a newly installed meter


def content_hash(meter_id: str, ts: datetime, energy_wh: int) -> str:
    """Hash of what the meter measured; two deliveries of one reading hash alike.

    Provenance (sequence numbers, receive time, which gateway) is left out on purpose:
    a redelivery by another path is a duplicate, not a conflict.
    """
    utc = ts if ts.tzinfo is UTC else ts.astimezone(UTC)
    payload = f"{meter_id}|{utc.isoformat()}|{energy_wh}".encode()
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


class Reading(BaseModel):
    """One sample of a cumulative energy register."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    meter_id: MeterId
    # ts and received_at are turned to UTC by the model validator below, in the one Python
    # call a reading costs anyway (an AfterValidator each would double the decode time).
    ts: AwareDatetime = Field(description="reading time by the meter clock (UTC)")
    energy_wh: int = Field(ge=0, description="cumulative energy register, Wh (delivered/export)")
    source: Source
    source_id: str = Field(
        min_length=1, max_length=128, description="gateway_id, provider_id or user id"
    )
    seq: int = Field(ge=0, description="per-source monotonically increasing sequence number")
    received_at: AwareDatetime = Field(
        description="when the source received it (its own clock, UTC)"
    )
    unit_id: int | None = Field(default=None, ge=0, le=255, description="Modbus unit id")
    scale_factor: int | None = Field(
        default=None, ge=-10, le=10, description="power of ten applied to the raw register"
    )
    raw_words: tuple[Annotated[int, Field(ge=0, le=0xFFFF)], ...] = Field(
        default=(), max_length=16, description="the raw 16-bit register words read"
    )
    register_modulus_wh: int | None = Field(
        default=None,
        gt=0,
        description="the register wraps to 0 at this many Wh (acc32: 2^32 x 10^sf)",
    )
    event: ReadingEvent | None = None
    flags: frozenset[QualityFlag] = frozenset()
    content_hash: str = Field(default="", description="blake2b of (meter_id, ts, energy_wh)")
    prev_hash: str | None = Field(
        default=None,
        min_length=64,
        max_length=64,
        description="SHA-256 (hex) of the source's previous reading of this meter in its send "
        "order (schemas.envelope.reading_hash): the meter's hash chain; None for a chain's "
        "first reading or an unchained source",
    )

    @model_validator(mode="after")
    def _to_utc_and_hash(self) -> Reading:
        """Normalise both instants to UTC, then fill the content hash or check it."""
        if self.ts.tzinfo is not UTC:
            object.__setattr__(self, "ts", self.ts.astimezone(UTC))
        if self.received_at.tzinfo is not UTC:
            object.__setattr__(self, "received_at", self.received_at.astimezone(UTC))
        expected = content_hash(self.meter_id, self.ts, self.energy_wh)
        if not self.content_hash:
            object.__setattr__(self, "content_hash", expected)
        elif self.content_hash != expected:
            raise ValueError(
                f"content_hash {self.content_hash!r} does not match the reading's meter_id, ts "
                f"and energy_wh (expected {expected!r}); the payload was altered or mis-built"
            )
        return self


class BatchSignature(BaseModel):
    """An Ed25519 signature over schemas.envelope.signing_message of the batch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(min_length=1, max_length=128, description="the signer's key id")
    value: str = Field(
        min_length=86, max_length=88, description="the 64-byte signature, base64 (RFC 4648)"
    )


class ReadingBatch(BaseModel):
    """The envelope readings travel in over MQTT and Kafka (many readings per message).

    Encode and decode it with schemas.envelope (the one codec): version 1 carries neither
    chain links nor a signature, version 2 may carry both.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1, 2] = SCHEMA_VERSION
    batch_id: str = Field(min_length=1, max_length=128)
    source: Source
    source_id: str = Field(min_length=1, max_length=128)
    sent_at: UtcDatetime
    readings: tuple[Reading, ...] = Field(min_length=1, max_length=10_000)
    signature: BatchSignature | None = None

    @model_validator(mode="after")
    def _same_source(self) -> ReadingBatch:
        chained = False
        for index, reading in enumerate(self.readings):
            if reading.source != self.source or reading.source_id != self.source_id:
                raise ValueError(
                    f"readings[{index}] comes from {reading.source}:{reading.source_id} but the "
                    f"batch is from {self.source}:{self.source_id}; send one batch per source"
                )
            chained = chained or reading.prev_hash is not None
        if self.schema_version == SCHEMA_VERSION and (chained or self.signature is not None):
            raise ValueError(
                "a version 1 batch carries no prev_hash and no signature; send schema_version 2"
            )
        return self
