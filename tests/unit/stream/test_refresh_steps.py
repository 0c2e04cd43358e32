"""The rollup refresh is written once (stream.rollup_refresh.refresh_steps) as steps that the
sync and the async runner of storage.energy_store only execute: driven here by hand, with the
answers a database would give, the steps come in the documented order and carry the
decisions (no neighbours: the points of the new span; a stored interval: the upsert)."""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.reading import Reading, Source
from storage import energy_store
from storage.energy_store import CopyUnlessStored, Execute, Points, Step
from storage.reading_points import PointRow
from stream.directory import MeterInfo, StaticDirectory
from stream.rollup_refresh import refresh_steps

T0 = datetime(2026, 6, 1, 14, tzinfo=UTC)  # 10:00 local, America/New_York
DIRECTORY = StaticDirectory(
    [MeterInfo("M-1", "S-1", "America/New_York", Decimal(50), None, "das-a")]
)


def reading(meter_id: str, minutes: int, wh: int) -> Reading:
    at = T0 + timedelta(minutes=minutes)
    return Reading(meter_id=meter_id, ts=at, energy_wh=wh, source=Source.DAS,
                   source_id="das-a", seq=wh, received_at=at)  # fmt: skip


def drive(steps: Generator[Step, Any, None], answers: dict[str, Any]) -> list[str]:
    """Run the steps, answering each by the first word of its kind; the kinds in order."""
    seen: list[str] = []
    answer: Any = None
    while True:
        try:
            step = steps.send(answer)
        except StopIteration:
            return seen
        if isinstance(step, Points):
            kind = "points"
        elif isinstance(step, CopyUnlessStored):
            kind = "copy_intervals"
        else:
            assert isinstance(step, Execute)
            kind = {
                energy_store._LOCK_METERS: "lock",
                energy_store._NEIGHBOURS: "neighbours",
                energy_store._UPSERT_INTERVALS: "upsert_intervals",
                energy_store._DAY_PARTS: "day_parts",
                energy_store._UPSERT_DAYS: "upsert_days",
                energy_store._REFRESH_MONTHS: "refresh_months",
            }[step.sql]
        seen.append(kind)
        answer = answers.get(kind)


def stored(new: list[Reading]) -> dict[str, list[PointRow]]:
    return {"M-1": [PointRow(r.ts, r.energy_wh, None, None, []) for r in new]}


def test_the_steps_come_in_order_and_in_order_readings_are_copied() -> None:
    """Three new readings, none stored around them: lock, neighbours, points, the two
    intervals copied in, the day's parts, the day upserted, its month re-summed."""
    new = [reading("M-1", 15 * q, 1000 + 100 * q) for q in range(3)]
    day_row = ("M-1", date(2026, 6, 1), 200, 2, None, *([None] * 8))
    answers = {
        "neighbours": [("M-1", None, None)],
        "points": stored(new),
        "copy_intervals": True,
        "day_parts": [day_row],
    }
    assert drive(refresh_steps(DIRECTORY, new), answers) == [
        "lock",
        "neighbours",
        "points",
        "copy_intervals",
        "day_parts",
        "upsert_days",
        "refresh_months",
    ]


def test_a_stored_interval_sends_the_rows_through_the_upsert() -> None:
    """When the copy meets a stored key (a late reading), the intervals are upserted; a
    reading of a meter the directory does not know makes no step at all."""
    new = [reading("M-1", 15 * q, 1000 + 100 * q) for q in range(2)]
    answers = {
        "neighbours": [("M-1", None, None)],
        "points": stored(new),
        "copy_intervals": False,
        "day_parts": [],
    }
    assert drive(refresh_steps(DIRECTORY, new), answers) == [
        "lock",
        "neighbours",
        "points",
        "copy_intervals",
        "upsert_intervals",
        "day_parts",
    ]
    assert drive(refresh_steps(DIRECTORY, [reading("M-UNKNOWN", 0, 5)]), {}) == []
