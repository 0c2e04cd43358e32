"""Batch ids: a source names each batch it sends, and a batch id comes back only as the same
batch (issue 14 item 11).

A message's readings of one meter are a *part*: (source_id, batch_id, meter_id, first and
last sequence number, and a digest of the readings' content hashes in time order). Against the
parts already stored under the same (source_id, batch_id, meter_id), a new part is
- `again`: the same first sequence number and digest (a redelivery: Kafka, MQTT, a redrive);
- `new`: sequence numbers that overlap no stored part (the first time, or another part of a
  batch the bridge split: its parts keep the batch id and carry disjoint readings);
- `reused`: overlapping sequence numbers with other content (the same id and seq numbers with
  new timestamps or values: a replay, or a source that reuses ids). Its readings are stored as
  any (raw data is never dropped) and the reuse is recorded as a `batch_id_reused` provenance
  finding (storage.batch_receipts).
Pure: readings in, parts and judgements out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from schemas.reading import Reading


class Judgement(StrEnum):
    NEW = "new"
    AGAIN = "again"
    REUSED = "reused"


@dataclass(frozen=True, slots=True)
class BatchPart:
    """The readings of one meter that one message of a batch carried."""

    source_id: str
    batch_id: str
    meter_id: str
    first_seq: int
    last_seq: int
    readings: int
    digest: str
    first_ts: datetime
    last_ts: datetime

    def overlaps(self, other: BatchPart) -> bool:
        return self.first_seq <= other.last_seq and other.first_seq <= self.last_seq


def parts_of(source_id: str, batch_id: str, readings: Iterable[Reading]) -> list[BatchPart]:
    """One part per meter of a message's readings."""
    by_meter: dict[str, list[Reading]] = {}
    for reading in readings:
        by_meter.setdefault(reading.meter_id, []).append(reading)
    parts = []
    for meter_id, group in sorted(by_meter.items()):
        group.sort(key=lambda r: (r.ts, r.seq))
        digest = hashlib.sha256("\n".join(r.content_hash for r in group).encode()).hexdigest()
        seqs = [r.seq for r in group]
        parts.append(
            BatchPart(
                source_id,
                batch_id,
                meter_id,
                min(seqs),
                max(seqs),
                len(group),
                digest,
                group[0].ts,
                group[-1].ts,
            )
        )
    return parts


def judge(part: BatchPart, stored: Sequence[BatchPart]) -> tuple[Judgement, BatchPart | None]:
    """What `part` is next to the parts stored under its (source_id, batch_id, meter_id), and
    the stored part it repeats or contradicts."""
    for known in stored:
        if known.first_seq == part.first_seq and known.digest == part.digest:
            return Judgement.AGAIN, known
    for known in stored:
        if known.overlaps(part):
            return Judgement.REUSED, known
    return Judgement.NEW, None
