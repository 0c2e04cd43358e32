"""The gateway's clock jumps an hour forward mid-month and back an hour later in the month
(issue 14 faults): what the code decides, end to end on the private services.

The meters of the rig have no clock of their own (their maps carry none), so a reading is
stamped with the poll instant the gateway aligned to its own clock, and its receipt time is
the gateway's clock too:
- +1 h: each reading carries the register value of the true hour, stamped an hour later.
  Stamp and receipt agree, so the stream neither refuses it (future tolerance) nor flags
  CLOCK_SKEW; the interval over the jump spans two stamped hours for one true hour.
- -1 h: the first poll after the jump back is stamped with the instant of the last poll before
  it, with a higher register: a conflict on (meter_id, ts). The first reading stays in
  `readings`, the later one is kept in `reading_conflicts` (raw data is never dropped or
  overwritten); one conflict per meter.
Month totals come from register differences, which telescope: the month's energy equals ground
truth exactly, since the readings at the month's edges are stamped right. Nothing is stored
twice: each reading the meters served is in `readings` or, once per meter, in
`reading_conflicts`.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from tests.faults.rig import Pipeline

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(600)]


async def test_gateway_clock_jumps_forward_an_hour_then_back(tmp_path: Path) -> None:
    """+1 h a third of the way in, back to true time at two thirds: every reading kept once
    (one conflict per meter at the jump back), month totals exact, no reading flagged."""
    pipeline = Pipeline(tmp_path, "gateway_clock")
    try:
        await pipeline.start()
        await pipeline.poll(1 / 3)
        pipeline.gateway_clock.offset = timedelta(hours=1)
        await pipeline.poll(1 / 3)
        pipeline.gateway_clock.offset = timedelta(0)
        back_at = pipeline.start_at + timedelta(hours=pipeline.done_ticks)
        healed = time.monotonic()
        outcome = await pipeline.finish("gateway clock +1 h, then back -1 h", healed)
        with psycopg.connect(pipeline.postgres.url) as conn:
            conflicts = conn.execute(
                "SELECT c.meter_id, c.ts, c.energy_wh > r.energy_wh FROM reading_conflicts c "
                "JOIN readings r USING (meter_id, ts) ORDER BY 1"
            ).fetchall()
            flags = conn.execute(
                "SELECT DISTINCT unnest(flags) FROM readings ORDER BY 1"
            ).fetchall()
            stored = conn.execute("SELECT count(*) FROM readings").fetchone()
    finally:
        await pipeline.close()
    meters = sorted(m.meter_id for m in pipeline.fleet.meters)
    assert outcome.stored == outcome.expected, outcome  # readings + conflicts: none lost
    assert stored == (outcome.expected - len(meters),)
    assert outcome.totals_exact, outcome
    assert conflicts == [(m, back_at, True) for m in meters]
    assert outcome.conflicts == len(meters)
    assert flags == []
