"""The shared core for one message: decode, run the stages, triage the readings (write,
drop as duplicate, or refuse with a reason). Pure, no I/O.

`Core.triage` turns a message (bytes or an already validated ReadingBatch) into a `Triage`:
readings to write (accepted, plus in-message conflicts the writer must record), how many
in-message duplicates were dropped, and the rejects with their reason and payload. Given the
registry's keys, it first verifies a signed batch (stream.signatures): a refused signature
refuses the whole message; a verified one leaves its receipt in the triage. The engines'
one processing loop (stream.processing, run by stream.inprocess and stream.faust_app) calls
it, then hands the triage to stream.persist; tests call it directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.envelope import encode_batch
from schemas.reading import Reading, ReadingBatch
from stream.decode import decode_batch, salvage
from stream.directory import MeterDirectory
from stream.errors import ReasonCode, RejectedError
from stream.signatures import BatchReceipt, BatchVerifier, KeySource
from stream.stages import (
    Dedupe,
    KeyMatches,
    Limits,
    NotAfter,
    Stage,
    Verdict,
    default_pipeline,
    run_pipeline,
)


@dataclass(frozen=True, slots=True)
class Reject:
    """A refused message or reading, with the payload that goes to the dead-letter place.

    `payload` is bounded: when the original was larger than a record may be, it holds a
    prefix and `payload_sha256` / `payload_bytes` describe the whole original. `ordinal`
    numbers the reject within its message when the engine must fix it (parked readings of a
    message split to isolate a failure); None: its place in the triage's list.
    """

    code: ReasonCode
    reason: str
    payload: bytes
    meter_id: str | None = None
    payload_sha256: str | None = None
    payload_bytes: int | None = None
    ordinal: int | None = None


def bounded_reject(code: ReasonCode, reason: str, payload: bytes, limit: int) -> Reject:
    """A reject whose payload is at most `limit` bytes (a prefix, with the whole one's hash)."""
    if len(payload) <= limit:
        return Reject(code, reason, payload)
    return Reject(
        code,
        reason,
        payload[:limit],
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        payload_bytes=len(payload),
    )


@dataclass(frozen=True, slots=True)
class Salvaged:
    """A batch some of whose readings were malformed: the valid ones, and a reject for each
    malformed one (stream.decode.salvage)."""

    batch: ReadingBatch
    rejects: list[Reject]


@dataclass(slots=True)
class Triage:
    """What the core made of one message."""

    to_write: list[Reading] = field(default_factory=list)
    duplicates: int = 0
    rejects: list[Reject] = field(default_factory=list)
    receipt: BatchReceipt | None = None  # a verified signed batch (stream.signatures)
    batch_key: tuple[str, str] | None = None  # (source_id, batch_id): stream.batch_ids


class Core:
    """Decode and validate messages; configured once with the registry and the stages."""

    def __init__(
        self,
        directory: MeterDirectory,
        stages: Sequence[Stage] | None = None,
        limits: Limits | None = None,
        keys: KeySource | None = None,
    ) -> None:
        self.directory = directory
        self.limits = limits or Limits()
        # signed batches verified when the engine gives the registry's keys
        self._verify = BatchVerifier(keys) if keys is not None else None
        self._stages = (
            list(stages) if stages is not None else default_pipeline(directory, self.limits)
        )

    def decode(self, payload: bytes) -> ReadingBatch | Salvaged | Reject:
        """The batch of a message, or the reject of the whole message (size checked first,
        then the JSON with pydantic, whose parser refuses nesting deeper than 200 levels);
        a batch refused for malformed readings only keeps its valid ones (Salvaged)."""
        limit = self.limits.max_message_bytes
        if len(payload) > limit:
            return bounded_reject(
                ReasonCode.TOO_LARGE,
                f"the message is {len(payload)} bytes, more than the {limit} a record may be; "
                "send fewer readings per message",
                payload,
                limit,
            )
        try:
            return decode_batch(payload)
        except RejectedError as exc:
            if exc.code in (ReasonCode.SCHEMA_INVALID, ReasonCode.NEGATIVE_REGISTER):
                found = salvage(payload)
                if found is not None:
                    batch, bad = found
                    return Salvaged(
                        batch, [Reject(b.code, b.reason, b.payload, b.meter_id) for b in bad]
                    )
            return Reject(exc.code, exc.reason, payload)

    def triage(
        self,
        message: bytes | ReadingBatch | Salvaged | Reject,
        *,
        key: bytes | None = None,
        now: datetime | None = None,
    ) -> Triage:
        """Run every reading of a message through the stages (first refusal wins)."""
        decoded = self.decode(message) if isinstance(message, bytes) else message
        if isinstance(decoded, Reject):  # a Reject stays
            return Triage(rejects=[decoded])
        batch, malformed = (
            (decoded.batch, decoded.rejects) if isinstance(decoded, Salvaged) else (decoded, [])
        )
        receipt = None
        if self._verify is not None:
            verification = self._verify(batch, now if now is not None else batch.sent_at)
            if verification.refusal is not None:
                payload = message if isinstance(message, bytes) else encode_batch(batch)
                refusal = verification.refusal
                return Triage(
                    rejects=[
                        Reject(refusal.code, refusal.reason, payload, batch.readings[0].meter_id)
                    ]
                )
            receipt = verification.receipt
        stages: list[Stage] = [KeyMatches(key), *self._stages]
        if now is not None:
            stages.append(NotAfter(now, self.limits.future))
        stages.append(Dedupe())
        out = Triage(receipt=receipt, batch_key=(batch.source_id, batch.batch_id))
        out.rejects += malformed
        for reading in batch.readings:
            try:
                decision = run_pipeline(stages, reading)
            except Exception as exc:  # a stage failing on one reading must not stop the rest
                out.rejects.append(
                    Reject(
                        ReasonCode.PROCESSING_FAILED,
                        f"checking the reading failed: {type(exc).__name__}: {exc}"[:500],
                        reading.model_dump_json().encode(),
                        reading.meter_id,
                    )
                )
                continue
            if decision.verdict is Verdict.DUPLICATE:
                out.duplicates += 1
            elif decision.verdict is not Verdict.REJECT:  # a conflict is written and recorded
                out.to_write.append(decision.reading)
            else:
                assert decision.code is not None
                out.rejects.append(
                    Reject(
                        decision.code,
                        decision.reason,
                        reading.model_dump_json().encode(),
                        reading.meter_id,
                    )
                )
        return out
