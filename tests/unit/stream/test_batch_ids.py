"""stream.batch_ids: parts of a message and what a part is next to the stored ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.reading import Reading, Source
from stream.batch_ids import Judgement, judge, parts_of

T0 = datetime(2026, 3, 10, 15, tzinfo=UTC)


def reading(meter_id: str, minutes: int, seq: int, wh: int = 1_000) -> Reading:
    at = T0 + timedelta(minutes=minutes)
    return Reading(
        meter_id=meter_id, ts=at, energy_wh=wh, source=Source.DAS, source_id="das-a",
        seq=seq, received_at=at,
    )  # fmt: skip


def test_one_part_per_meter_in_time_order() -> None:
    """Two meters in one message: two parts, each with its own seq range and times."""
    parts = parts_of(
        "das-a", "b", [reading("M2", 15, 7), reading("M1", 30, 2), reading("M1", 0, 1)]
    )
    assert [(p.meter_id, p.first_seq, p.last_seq, p.readings, p.first_ts) for p in parts] == [
        ("M1", 1, 2, 2, T0),
        ("M2", 7, 7, 1, T0 + timedelta(minutes=15)),
    ]


def test_the_same_readings_in_another_order_are_the_same_part() -> None:
    """A redelivery is recognised whatever the order of the readings in it."""
    a = parts_of("das-a", "b", [reading("M1", 0, 1), reading("M1", 15, 2)])
    b = parts_of("das-a", "b", [reading("M1", 15, 2), reading("M1", 0, 1)])
    assert a == b
    assert judge(b[0], a) == (Judgement.AGAIN, a[0])


def test_new_timestamps_under_old_seqs_are_a_reuse_disjoint_seqs_are_not() -> None:
    """Same seqs, new times: reused; the next seqs of a split batch: new; nothing stored: new."""
    (stored,) = parts_of("das-a", "b", [reading("M1", 0, 1), reading("M1", 15, 2)])
    (replay,) = parts_of("das-a", "b", [reading("M1", 60, 1), reading("M1", 75, 2)])
    (split,) = parts_of("das-a", "b", [reading("M1", 30, 3), reading("M1", 45, 4)])
    (changed,) = parts_of("das-a", "b", [reading("M1", 0, 1, wh=5), reading("M1", 15, 2)])
    assert judge(replay, [stored]) == (Judgement.REUSED, stored)
    assert judge(changed, [stored]) == (Judgement.REUSED, stored)
    assert judge(split, [stored]) == (Judgement.NEW, None)
    assert judge(stored, []) == (Judgement.NEW, None)
