"""Validation stages: each is configured once and called per reading, returning a Decision.

A stage returns None when the reading passes unchanged (the common case, and free: no object
per reading), or a decision: ACCEPT with the reading flagged (e.g. CLOCK_SKEW), DUPLICATE,
CONFLICT (same key, other content: kept and recorded, never overwriting) or REJECT with a
reason code and a message. A pipeline is a list of stages; the first decision other than
ACCEPT wins.
The Faust agent, the in-process engine and the tests share it (stream.core).

Readings that pass are stored raw. Anomalies that need neighbours (a register going down
without rollover, reset or meter swap; power above the system's capacity) cannot be judged
from one reading in an out-of-order stream: they are flagged when energy is derived from the
stored readings (stream.energy), so the verdict does not depend on the delivery order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from schemas.reading import QualityFlag, Reading, Source
from stream.directory import MeterDirectory
from stream.energy import DEFAULT_POWER_TOLERANCE
from stream.errors import ReasonCode

FUTURE_TOLERANCE = timedelta(minutes=15)  # PTS_STREAM_FUTURE_TOLERANCE_S
CLOCK_SKEW_LIMIT = timedelta(minutes=5)  # PTS_STREAM_CLOCK_SKEW_S
EARLIEST_READING = datetime(2000, 1, 1, tzinfo=UTC)  # PTS_STREAM_EARLIEST_READING
MAX_MESSAGE_BYTES = 1_048_576  # PTS_STREAM_MAX_MESSAGE_BYTES (Kafka's default record limit)
BIGINT_MAX = 2**63 - 1  # the largest register, modulus and sequence number PostgreSQL holds


class Verdict(StrEnum):
    ACCEPT = "accept"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Decision:
    """What a stage decided about one reading (the reading as it goes on)."""

    verdict: Verdict
    reading: Reading
    code: ReasonCode | None = None
    reason: str = ""

    @classmethod
    def accept(cls, reading: Reading) -> Decision:
        return cls(Verdict.ACCEPT, reading)

    @classmethod
    def reject(cls, reading: Reading, code: ReasonCode, reason: str) -> Decision:
        return cls(Verdict.REJECT, reading, code, reason)


class Stage(Protocol):
    def __call__(self, reading: Reading) -> Decision | None:
        """None: the reading passes unchanged; otherwise what the stage decided."""


class Bounds:
    """Refuse what no register, clock or database column can hold, before any other work.

    - energy_wh, register_modulus_wh and seq at most 2^63 − 1 (PostgreSQL bigint);
    - energy_wh below the register's modulus (the reading's own, else the registry's): a
      register wraps to 0 there, so it never shows the modulus itself;
    - ts and received_at not before `earliest` (the plausible window; the future side is
      NotInFuture / NotAfter): a reading dated 1900 would otherwise make the writer create a
      partition for it and the rollups walk every day since;
    - no NUL in source_id (PostgreSQL text cannot hold it).
    """

    def __init__(self, directory: MeterDirectory, earliest: datetime = EARLIEST_READING) -> None:
        self._directory = directory
        self._earliest = earliest

    def __call__(self, reading: Reading) -> Decision | None:
        problem = self._value_problem(reading)
        if problem is not None:
            return Decision.reject(reading, ReasonCode.VALUE_OUT_OF_RANGE, problem)
        for name, instant in (("ts", reading.ts), ("received_at", reading.received_at)):
            if instant < self._earliest:
                return Decision.reject(
                    reading,
                    ReasonCode.TIMESTAMP_OUT_OF_RANGE,
                    f"{name} {instant.isoformat()} is before the plausible window, which opens "
                    f"{self._earliest.isoformat()}; check the meter clock (or widen "
                    "PTS_STREAM_EARLIEST_READING and re-drive)",
                )
        if "\x00" in reading.source_id:
            return Decision.reject(
                reading,
                ReasonCode.SCHEMA_INVALID,
                f"source_id {reading.source_id!r} contains a NUL byte; send a plain text id",
            )
        return None

    def _value_problem(self, reading: Reading) -> str | None:
        for name, value in (
            ("energy_wh", reading.energy_wh),
            ("register_modulus_wh", reading.register_modulus_wh),
            ("seq", reading.seq),
        ):
            if value is not None and value > BIGINT_MAX:
                return (
                    f"{name} {value} is above {BIGINT_MAX}, the largest value stored; "
                    "check the register scale and the unit"
                )
        modulus = reading.register_modulus_wh
        if modulus is None:
            info = self._directory.get(reading.meter_id)
            modulus = info.register_modulus_wh if info is not None else None
        if modulus is not None and reading.energy_wh >= modulus:
            return (
                f"energy_wh {reading.energy_wh} is not below the register's modulus {modulus} "
                "Wh (a register wraps to 0 there); check the register scale, the unit or the "
                "modulus in the registry"
            )
        return None


class KnownMeter:
    """Refuse readings of meters that are not in the registry."""

    def __init__(self, directory: MeterDirectory) -> None:
        self._directory = directory

    def __call__(self, reading: Reading) -> Decision | None:
        if self._directory.get(reading.meter_id) is None:
            return Decision.reject(
                reading,
                ReasonCode.UNKNOWN_METER,
                f"meter {reading.meter_id!r} is not registered; register it before reporting",
            )
        return None


class ProviderOwnsMeter:
    """A DAS provider or a gateway may report only the meters of the systems registered to it.

    The registry records a system's reporting party of record in `systems.das_provider_id`:
    a DAS provider's id, or a gateway's (the demo's `demo-gw`). A reading whose source is a
    DAS provider or a gateway and whose source_id is not that party is refused, whatever the
    broker's ACL let through (another gateway's meter, a provider's meter, a system reported
    manually). Manual and audit readings do not come through the stream's sources: a message
    claiming either is refused (any gateway or provider could write one).
    """

    _CHECKED = frozenset({Source.DAS, Source.GATEWAY})

    def __init__(self, directory: MeterDirectory) -> None:
        self._directory = directory

    def __call__(self, reading: Reading) -> Decision | None:
        info = self._directory.get(reading.meter_id)
        if reading.source not in self._CHECKED:
            party = info.provider_id if info is not None else None
            return Decision.reject(
                reading,
                ReasonCode.PROVIDER_MISMATCH,
                f"{reading.source} readings are not taken from a message: meter "
                f"{reading.meter_id!r} is reported by {party!r}; a representative enters a "
                "manual reading in the portal",
            )
        if info is not None and info.provider_id != reading.source_id:
            kind = "provider" if reading.source is Source.DAS else "gateway"
            return Decision.reject(
                reading,
                ReasonCode.PROVIDER_MISMATCH,
                f"{kind} {reading.source_id!r} reported meter {reading.meter_id!r}, which is "
                f"reported by {info.provider_id!r}; only the system's reporting party of "
                "record may report it",
            )
        return None


class NotInFuture:
    """Refuse readings stamped later than their receive time plus a clock tolerance."""

    def __init__(self, tolerance: timedelta = FUTURE_TOLERANCE) -> None:
        self._tolerance = tolerance

    def __call__(self, reading: Reading) -> Decision | None:
        if reading.ts > reading.received_at + self._tolerance:
            return Decision.reject(
                reading,
                ReasonCode.FUTURE_TIMESTAMP,
                f"reading at {reading.ts.isoformat()} is later than its receive time "
                f"{reading.received_at.isoformat()} by more than {self._tolerance}; "
                "check the meter clock",
            )
        return None


class NotAfter:
    """Refuse readings stamped after the processing instant plus a tolerance.

    `now` is given per message by the engine (the core reads no clock).
    """

    def __init__(self, now: datetime, tolerance: timedelta = FUTURE_TOLERANCE) -> None:
        self._limit = now + tolerance

    def __call__(self, reading: Reading) -> Decision | None:
        if reading.ts > self._limit:
            return Decision.reject(
                reading,
                ReasonCode.FUTURE_TIMESTAMP,
                f"reading at {reading.ts.isoformat()} is in the future (limit "
                f"{self._limit.isoformat()}); check the meter and gateway clocks",
            )
        return None


class RegistryModulus:
    """Give a reading without a register modulus the registry's (a DAS provider sends plain
    registers): the energy rules then count a wrap as a rollover, not as a backwards step."""

    def __init__(self, directory: MeterDirectory) -> None:
        self._directory = directory

    def __call__(self, reading: Reading) -> Decision | None:
        if reading.register_modulus_wh is not None:
            return None
        info = self._directory.get(reading.meter_id)
        if info is None or info.register_modulus_wh is None:
            return None
        return Decision.accept(
            reading.model_copy(update={"register_modulus_wh": info.register_modulus_wh})
        )


class ClockSkewFlagger:
    """Flag CLOCK_SKEW when the meter stamped a reading well before it was received.

    Store-and-forward replays (flagged REPLAYED) are late on purpose and are not skewed.
    """

    def __init__(self, limit: timedelta = CLOCK_SKEW_LIMIT) -> None:
        self._limit = limit

    def __call__(self, reading: Reading) -> Decision | None:
        lag = reading.received_at - reading.ts
        if (
            lag > self._limit
            and QualityFlag.REPLAYED not in reading.flags
            and QualityFlag.CLOCK_SKEW not in reading.flags
        ):
            flagged = reading.model_copy(update={"flags": reading.flags | {QualityFlag.CLOCK_SKEW}})
            return Decision.accept(flagged)
        return None


class KeyMatches:
    """The Kafka key of a message names the meter of each of its readings (per message)."""

    def __init__(self, key: bytes | None) -> None:
        self._key = None if key is None else key.decode(errors="replace")

    def __call__(self, reading: Reading) -> Decision | None:
        if self._key is not None and self._key != reading.meter_id:
            return Decision.reject(
                reading,
                ReasonCode.KEY_MISMATCH,
                f"message key {self._key!r} but reading of meter {reading.meter_id!r}; "
                "key each message by its meter_id",
            )
        return None


class Dedupe:
    """Dedupe on (meter_id, ts) within what this stage has seen (one message).

    A repeat with the same content hash is a DUPLICATE; with another hash a CONFLICT (the
    engine still hands it to the writer, which records it in `reading_conflicts`).
    Repeats across messages are found by the writer against the stored readings.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, datetime], str] = {}

    def __call__(self, reading: Reading) -> Decision | None:
        key = (reading.meter_id, reading.ts)
        known = self._seen.get(key)
        if known is None:
            self._seen[key] = reading.content_hash
            return None
        if known == reading.content_hash:
            return Decision(Verdict.DUPLICATE, reading)
        return Decision(
            Verdict.CONFLICT,
            reading,
            reason=f"meter {reading.meter_id} at {reading.ts.isoformat()} was already "
            f"delivered with other content ({known} ≠ {reading.content_hash})",
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """The validation limits an operator may tune (settings PTS_STREAM_*)."""

    future: timedelta = FUTURE_TOLERANCE  # stamped later than receipt / processing by more
    clock_skew: timedelta = CLOCK_SKEW_LIMIT  # received later than stamped by more: CLOCK_SKEW
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE  # mean power above nameplate × this
    earliest: datetime = EARLIEST_READING  # readings stamped before this are refused
    max_message_bytes: int = MAX_MESSAGE_BYTES  # larger messages are refused too_large


def default_pipeline(directory: MeterDirectory, limits: Limits | None = None) -> list[Stage]:
    limits = limits or Limits()
    return [
        Bounds(directory, limits.earliest),
        KnownMeter(directory),
        ProviderOwnsMeter(directory),
        RegistryModulus(directory),
        NotInFuture(limits.future),
        ClockSkewFlagger(limits.clock_skew),
    ]


def run_pipeline(stages: Sequence[Stage], reading: Reading) -> Decision:
    """Run the stages in order; the first decision other than ACCEPT wins."""
    for stage in stages:
        decision = stage(reading)
        if decision is not None:
            if decision.verdict is not Verdict.ACCEPT:
                return decision
            reading = decision.reading
    return Decision(Verdict.ACCEPT, reading)
