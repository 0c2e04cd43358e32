"""What became of each reading of a DAS report, as the stream decided it (pure: facts in,
statuses out).

Per row, first match wins:
- `refused` by the intake (its reason code: value_out_of_range, future_timestamp,
  unknown_system, provider_mismatch, …), decided before anything was produced;
- `refused` by the stream: a dead letter recorded from the very Kafka record that carried the
  reading (same topic, partition and offset; the reading's meter and sequence number in its
  payload, or the whole record refused), with the stream's reason code;
- `stored`: the reading at (meter_id, ts) is this one (the provider's source id and this
  report's sequence number);
- `duplicate`: the reading at (meter_id, ts) has the same content but came earlier (another
  report, or a repeat within this one);
- `conflict`: another content is stored at (meter_id, ts); this one is kept and flagged
  in reading_conflicts for staff, never counted;
- `pending`: the stream has not decided yet (ask again in a few seconds).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

STORED, DUPLICATE, CONFLICT, REFUSED, PENDING = (
    "stored",
    "duplicate",
    "conflict",
    "refused",
    "pending",
)
STATUSES = (STORED, DUPLICATE, CONFLICT, REFUSED, PENDING)

Position = tuple[str, int, int]  # Kafka topic, partition, offset


@dataclass(frozen=True, slots=True)
class RowFacts:
    """A row of a report with what storage holds at its (meter_id, ts)."""

    row_no: int
    system_id: str
    meter_id: str | None
    ts: datetime | None
    energy_wh: int | None
    seq: int | None
    content_hash: str | None
    intake_code: str | None
    intake_reason: str | None
    position: Position | None
    stored_source_id: str | None = None  # the reading stored at (meter_id, ts), if any
    stored_seq: int | None = None
    stored_hash: str | None = None
    in_conflicts: bool = False  # this content is in reading_conflicts


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead letter recorded from a Kafka record (the stream's refusal)."""

    position: Position
    code: str
    reason: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class RowStatus:
    row_no: int
    system_id: str
    meter_id: str | None
    ts: datetime | None
    energy_wh: int | None
    status: str
    code: str | None = None
    reason: str | None = None
    decided_by: str | None = None  # intake | stream


@dataclass(frozen=True, slots=True)
class Refusals:
    """The stream's refusals of a report's records: per reading and per whole record."""

    readings: dict[tuple[Position, str, int], tuple[str, str]]  # (pos, meter, seq) → code, why
    records: dict[Position, tuple[str, str]]


def sort_dead_letters(letters: Iterable[DeadLetter]) -> Refusals:
    """Which readings (or whole records) the stream refused: a payload that is one reading
    names it by meter and sequence number; any other payload stands for its whole record."""
    readings: dict[tuple[Position, str, int], tuple[str, str]] = {}
    records: dict[Position, tuple[str, str]] = {}
    for letter in letters:
        try:
            item: Any = json.loads(letter.payload)
        except (UnicodeDecodeError, ValueError, RecursionError):
            item = None
        if not isinstance(item, dict):
            item = {}
        meter, seq = item.get("meter_id"), item.get("seq")
        if isinstance(meter, str) and isinstance(seq, int):
            readings[(letter.position, meter, seq)] = (letter.code, letter.reason)
        else:
            records.setdefault(letter.position, (letter.code, letter.reason))
    return Refusals(readings, records)


def decide(row: RowFacts, provider_id: str, refusals: Refusals) -> RowStatus:
    """The status of one row (see the module docstring)."""

    def status(name: str, code: str | None = None, reason: str | None = None) -> RowStatus:
        by = None if name == PENDING else ("intake" if row.intake_code else "stream")
        return RowStatus(
            row.row_no, row.system_id, row.meter_id, row.ts, row.energy_wh, name, code, reason, by
        )

    if row.intake_code is not None:
        return status(REFUSED, row.intake_code, row.intake_reason)
    if row.position is not None and row.meter_id is not None and row.seq is not None:
        refused = refusals.readings.get((row.position, row.meter_id, row.seq))
        refused = refused or refusals.records.get(row.position)
        if refused is not None:
            return status(REFUSED, *refused)
    if row.stored_hash is not None:
        if row.stored_source_id == provider_id and row.stored_seq == row.seq:
            return status(STORED)
        if row.stored_hash == row.content_hash:
            return status(DUPLICATE)
        if row.in_conflicts:
            return status(
                CONFLICT,
                "conflict",
                "another reading of this meter at this time is stored with a different "
                "register; this one is kept and flagged for PTS staff, not counted",
            )
    return status(PENDING)


def summarise(statuses: Sequence[RowStatus]) -> dict[str, int]:
    """How many rows are in each status (every status named, zero included)."""
    counts = dict.fromkeys(STATUSES, 0)
    for s in statuses:
        counts[s.status] += 1
    return counts
