"""The simulator's memory stays bounded however much simulated time it serves.

bench/soak.py steps the meters' clock 5 minutes per poll at 5 polls/s: 62 simulated days per
real hour. Each SolarProfile kept the per-minute curve of every day it had served (~38 KB a
day and meter) and clear_sky_day kept up to 4,096 days (~30 KB each): with 20 meters that was
~50 MB/h, the growth bench/soak.py measured in its gateway+meters process and could not
explain (bench/soak_gateway.py, with the gateway in its own process, shows the gateway flat).
"""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

from gateways.clock import SteppedClock
from gateways.modbus_pdu import ReadRequest
from gateways.simulator.fleet import make_fleet
from gateways.simulator.meter import SUNSPEC_ENERGY_ADDRESS
from gateways.simulator.solar import SolarProfile

ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)


def test_days_served_hold_a_few_days_of_curves_and_give_the_same_values() -> None:
    """40 days walked in order grow the traced memory by under 1.2 MB (it was 2.7 MB, and
    49 MB for 730 days: linear); old days asked again are recomputed to the same Wh as a
    fresh profile gives."""
    instants = [ORIGIN + timedelta(days=d, hours=17, minutes=d % 60) for d in range(40)]
    walked = SolarProfile(50_000, 3, ORIGIN)
    walked.cumulative_wh(instants[0])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        values = [walked.cumulative_wh(t) for t in instants]
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    old_days = instants[::-7]
    fresh = SolarProfile(50_000, 3, ORIGIN)
    assert grown < 1_200_000, f"{grown / 1e6:.1f} MB kept for 40 days served"
    assert [walked.cumulative_wh(t) for t in old_days] == [fresh.cumulative_wh(t) for t in old_days]
    assert values[::-7] == [fresh.cumulative_wh(t) for t in old_days]


def test_a_fleet_that_keeps_no_ground_truth_serves_the_same_words_and_records_nothing() -> None:
    """`pts simulate meters` serves for as long as it runs and nobody reads its ground truth
    (tests and bench/soak.py read `served` in their own process): with keep_served off an
    energy read answers the same bytes and the meter's `served` stays empty."""
    clock = SteppedClock(ORIGIN + timedelta(hours=17))
    keeping, serving = (make_fleet(clock, 1, ORIGIN, seed=5) for _ in range(2))
    serving.keep_served = False
    request = ReadRequest(1, 1, 3, SUNSPEC_ENERGY_ADDRESS - 1, 4)
    answers = [
        fleet._answer(request, {1: fleet.meters[0]}) for fleet in (keeping, serving, serving)
    ]
    assert answers[0] == answers[1] == answers[2] is not None
    assert [len(f.meters[0].served) for f in (keeping, serving)] == [1, 0]
