"""One definition of a meter-month's energy (ADR 0005), by property: the month totals the
stream keeps (touched-day recompute of delivered batches, tests/properties/
test_stream_recompute.MemoryStore, as stream.persist does against the database) equal month
close's energy to the Wh, for readings with rollovers, announced and unannounced resets,
steps back across a wrap, implausible spikes, meter swaps, duplicates, late (shuffled)
delivery and months with a DST change.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from certification.month_close import Thresholds, meter_month
from schemas.reading import ReadingEvent
from stream.energy import PowerLimit, RegisterPoint
from tests.properties.test_stream_recompute import MemoryStore

ZONE = "America/New_York"
MOD = 10_000_000  # a small register so that it wraps often
KW = Decimal(10)
TOLERANCE = Decimal("1.2")
STARTS = [  # a few days before a month end that has a DST change after it
    datetime(2026, 2, 26, 3, tzinfo=UTC),
    datetime(2026, 10, 28, 3, tzinfo=UTC),
]
KINDS = ["plain"] * 6 + ["reset", "drop", "glitch", "spike", "swap", "gap"]


def fault_series(rnd: random.Random, ts: datetime, value: int, steps: int) -> list[RegisterPoint]:
    """One meter's register readings from `ts`, `steps` steps with faults drawn by `rnd`."""
    out = [RegisterPoint(ts, value, modulus_wh=MOD)]
    for _ in range(steps):
        kind = rnd.choice(KINDS)
        seconds = rnd.randint(30, 4 * 3600) if kind != "gap" else rnd.randint(1, 5) * 86_400
        ts += timedelta(seconds=seconds)
        step = rnd.randint(0, seconds * 9_000 // 3600)  # up to 9 kW
        event, reset = None, False
        if kind == "reset":
            value, reset = step, True
        elif kind == "drop":
            value = rnd.choice([value // 3, max(value - rnd.randint(1, 5_000), 0)])
        elif kind == "glitch":  # a restart restoring a value from before the last wrap
            value = (value - rnd.randint(1, 5_000)) % MOD
        elif kind == "spike":
            value = (value + rnd.randint(1_000_000, MOD // 2)) % MOD
        elif kind == "swap":
            out.append(RegisterPoint(ts, value, ReadingEvent.CLOSING, MOD))
            ts += timedelta(seconds=rnd.randint(30, 3600))
            value, event = rnd.randint(0, 1_000), ReadingEvent.OPENING
        else:
            value = (value + step) % MOD
        out.append(RegisterPoint(ts, value, event, MOD, reset))
    return out


@st.composite
def readings(draw: st.DrawFn) -> list[RegisterPoint]:
    """One meter's register readings over a couple of weeks, with faults."""
    rnd = random.Random(draw(st.integers(0, 2**32)))
    ts = draw(st.sampled_from(STARTS)) + timedelta(seconds=draw(st.integers(0, 86_400)))
    value = draw(st.integers(MOD - 300_000, MOD - 1))
    return fault_series(rnd, ts, value, draw(st.integers(2, 80)))


@settings(max_examples=150, deadline=None)
@given(readings(), st.randoms(use_true_random=False))
def test_stream_month_totals_equal_month_close(
    points: list[RegisterPoint], rnd: random.Random
) -> None:
    """Whatever the faults and the delivery, each month the stream stores equals the energy
    month close counts for it."""
    delivered = points + rnd.sample(points, k=len(points) // 3)
    rnd.shuffle(delivered)
    store = MemoryStore(PowerLimit(KW, TOLERANCE))
    i = 0
    while i < len(delivered):
        size = rnd.randint(1, 8)
        store.deliver(delivered[i : i + size])
        i += size
    months = store.months()
    assert months
    thresholds = Thresholds(power_tolerance=TOLERANCE)
    closed = {m: meter_month("M", points, m, ZONE, KW, thresholds).energy_wh for m in months}
    assert closed == months
