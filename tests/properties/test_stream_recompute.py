"""The windowed recompute (what stream.persist does against the database), by property.

An in-memory store plays the database: each delivered batch stores its new points, upserts
the intervals they change (keyed by end) and rebuilds the touched local days from the stored
intervals. Whatever the batching, order and duplication, the stored intervals and days must
equal the direct computation over all readings.
"""

from __future__ import annotations

import bisect
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.calendar import daily_energy, monthly_energy
from stream.energy import Interval, PowerLimit, RegisterPoint, intervals
from stream.rollup import changed_intervals, day_bounds, day_from_parts, months_of, touched_days

NY = ZoneInfo("America/New_York")
START = datetime(2026, 2, 27, 3, tzinfo=UTC)  # spans month end and the DST start
MOD = 1_000_000


class MemoryStore:
    """Stored points, intervals and day rows of one meter (the fake of the database); `limit`
    is the system's power limit, as stream.persist passes it."""

    def __init__(self, limit: PowerLimit | None = None) -> None:
        self.limit = limit
        self.points: dict[datetime, RegisterPoint] = {}
        self.intervals: dict[datetime, Interval] = {}  # keyed by interval end
        self.days: dict[date, int] = {}

    def deliver(self, batch: list[RegisterPoint]) -> None:
        new = [p for p in batch if p.ts not in self.points]
        for point in new:
            self.points.setdefault(point.ts, point)
        if not new:
            return
        stamps = sorted(self.points)
        lo, hi = min(p.ts for p in new), max(p.ts for p in new)
        i, j = bisect.bisect_left(stamps, lo), bisect.bisect_right(stamps, hi)
        before = stamps[i - 1] if i > 0 else None
        after = stamps[j] if j < len(stamps) else None
        a = bisect.bisect_left(stamps, before or lo)
        b = bisect.bisect_right(stamps, after or hi)
        stored = [self.points[t] for t in stamps[a:b]]
        for interval in changed_intervals(stored, before, after, self.limit):
            self.intervals[interval.end] = interval
        first, last = touched_days(lo, hi, before, after, NY)
        for day, d_lo, d_hi in day_bounds(first, last, NY):
            inside = [x for x in self.intervals.values() if x.start >= d_lo and x.end <= d_hi]
            crossing = [
                x
                for x in self.intervals.values()
                if x.start < d_lo < x.end or x.start < d_hi < x.end
            ]
            flags = [f.value for x in inside for f in x.flags]
            row = day_from_parts(
                day, NY, sum(x.energy_wh for x in inside), len(inside), flags, crossing
            )
            if row is not None:
                self.days[row.day] = row.energy_wh

    def months(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for month in months_of(self.days):
            key = month.strftime("%Y-%m")
            out[key] = sum(e for d, e in self.days.items() if d.strftime("%Y-%m") == key)
        return out


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[RegisterPoint], list[list[RegisterPoint]]]:
    """A register series (wrapping at MOD) and a random batching of shuffled, repeated points.

    Increments stay below MOD / 2 so that every wrap is a rollover."""
    steps = draw(
        st.lists(
            st.tuples(  # mostly short steps, some gaps longer than a day
                st.one_of(st.integers(1, 300), st.integers(1_400, 3_000)), st.integers(0, 60_000)
            ),
            min_size=2,
            max_size=50,
        )
    )
    rnd = random.Random(draw(st.integers(0, 2**32)))
    ts, value = START, draw(st.integers(0, MOD - 1))
    points = [RegisterPoint(ts, value, modulus_wh=MOD)]
    for minutes, wh in steps:
        ts += timedelta(minutes=minutes)
        value = (value + wh) % MOD
        points.append(RegisterPoint(ts, value, modulus_wh=MOD))
    delivered = points + rnd.sample(points, k=len(points) // 3)
    rnd.shuffle(delivered)
    batches, i = [], 0
    while i < len(delivered):
        size = rnd.randint(1, 8)
        batches.append(delivered[i : i + size])
        i += size
    return points, batches


@settings(max_examples=150, deadline=None)
@given(deliveries())
def test_windowed_recompute_equals_direct_rollup(
    case: tuple[list[RegisterPoint], list[list[RegisterPoint]]],
) -> None:
    """Days and months kept by touched-day recompute equal the direct rollup of all points."""
    points, batches = case
    store = MemoryStore()
    for batch in batches:
        store.deliver(batch)
    direct = daily_energy(intervals(points), NY)
    assert sorted(store.intervals.values(), key=lambda x: x.end) == intervals(points)
    assert store.days == {d: e.energy_wh for d, e in direct.items()}
    assert store.months() == {m: e.energy_wh for m, e in monthly_energy(direct).items()}


@settings(max_examples=50, deadline=None)
@given(deliveries())
def test_delivering_everything_again_changes_nothing(
    case: tuple[list[RegisterPoint], list[list[RegisterPoint]]],
) -> None:
    """Redelivery of every batch after the fact leaves every day row as it was."""
    _, batches = case
    store = MemoryStore()
    for batch in batches:
        store.deliver(batch)
    before = dict(store.days)
    for batch in reversed(batches):
        store.deliver(batch)
    assert store.days == before
