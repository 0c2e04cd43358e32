"""Sequence numbers that do not increase are found among new readings (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.reading import Reading, Source
from stream.sequence import SequenceAnomaly, first_per_source, within_batch

T = datetime(2026, 3, 10, 15, tzinfo=UTC)


def reading(meter_id: str, minutes: int, seq: int, source_id: str = "gw-1") -> Reading:
    ts = T + timedelta(minutes=minutes)
    return Reading(
        meter_id=meter_id,
        ts=ts,
        energy_wh=minutes,
        source=Source.GATEWAY,
        source_id=source_id,
        seq=seq,
        received_at=ts,
    )


def test_a_sequence_going_back_in_time_order_is_found() -> None:
    """seq 7 after seq 9 (later timestamp, same meter and source) is an anomaly; another
    source's numbering and another meter's are not compared."""
    found = within_batch(
        [
            reading("M1", 0, 9),
            reading("M1", 15, 7),
            reading("M1", 30, 8),
            reading("M1", 45, 1, source_id="gw-2"),
            reading("M2", 15, 2),
        ]
    )
    assert found == [
        SequenceAnomaly("M1", T + timedelta(minutes=15), "gateway", "gw-1", 7, T, 9),
    ]


def test_the_earliest_new_reading_per_meter_and_source_is_compared_with_the_store() -> None:
    """One reading per (meter, source): the earliest."""
    firsts = first_per_source(
        [reading("M1", 30, 3), reading("M1", 15, 2), reading("M2", 0, 1), reading("M1", 0, 5, "x")]
    )
    assert sorted((r.meter_id, r.source_id, r.seq) for r in firsts) == [
        ("M1", "gw-1", 2),
        ("M1", "x", 5),
        ("M2", "gw-1", 1),
    ]
