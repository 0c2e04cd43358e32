"""Sequence numbers: each source numbers its readings in increasing order (schemas.Reading.seq).

A reading whose seq is not above the seq of the same source's previous reading of the same
meter (by time) is suspect: a replay of old messages with new timestamps, or a source whose
counter was reset. It is stored (raw data is never dropped) and recorded in
`reading_sequence_anomalies` for review. Pure: `within_batch` compares successive new
readings; `first_per_source` names the earliest new reading of each (meter, source), whose
predecessor is a stored reading that storage.energy_store looks up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from schemas.reading import Reading


@dataclass(frozen=True, slots=True)
class SequenceAnomaly:
    """A reading whose seq did not increase after its source's previous reading."""

    meter_id: str
    ts: datetime
    source: str
    source_id: str
    seq: int
    previous_ts: datetime
    previous_seq: int


def _by_meter_and_source(readings: Iterable[Reading]) -> dict[tuple[str, str, str], list[Reading]]:
    groups: dict[tuple[str, str, str], list[Reading]] = {}
    for reading in readings:
        key = (reading.meter_id, reading.source.value, reading.source_id)
        groups.setdefault(key, []).append(reading)
    for group in groups.values():
        group.sort(key=lambda r: r.ts)
    return groups


def within_batch(readings: Iterable[Reading]) -> list[SequenceAnomaly]:
    """Anomalies among the new readings themselves (successive in time, same meter and
    source, seq not increasing)."""
    out = []
    for (meter_id, source, source_id), group in _by_meter_and_source(readings).items():
        for prev, cur in pairwise(group):
            if cur.seq <= prev.seq and cur.ts > prev.ts:
                out.append(
                    SequenceAnomaly(meter_id, cur.ts, source, source_id, cur.seq, prev.ts, prev.seq)
                )
    return out


def first_per_source(readings: Iterable[Reading]) -> list[Reading]:
    """The earliest new reading of each (meter, source): the one to compare with the store."""
    return [group[0] for group in _by_meter_and_source(readings).values()]
