"""ADR 0005 on the real database: readings with rollovers, resets, steps back across a wrap,
spikes, swaps, gaps, delivered shuffled and twice through the in-process stream engine; the
month totals the engine stored (`meter_month_energy`) equal month close's energy computed
from the stored readings, to the Wh (seeded faults from the property test's generator)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest

from certification.month_close import Thresholds, meter_month
from certification.workflows._common import register_point
from schemas import DasProvider, Meter, QualityFlag, Reading, Source, System
from schemas.registry import AccuracyClass, ReportingMethod
from storage import registry_store
from storage.energy_store import monthly_totals
from storage.reading_points import month_points
from stream.calendar import month_bounds
from stream.inprocess import InProcessEngine
from tests.properties.test_one_monthly_total import KW, MOD, STARTS, TOLERANCE, ZONE, fault_series
from tests.support import batch_bytes

pytestmark = pytest.mark.integration


def register(conn: psycopg.Connection[object]) -> None:
    registry_store.upsert(
        conn,
        [
            DasProvider(provider_id="das-a", name="DAS A", approved=True),
            System(
                system_id="P",
                owner_id="owner-P",
                capacity_kw_dc=KW,
                reporting_method=ReportingMethod.AUTOMATIC,
                das_provider_id="das-a",
            ),
            Meter(
                meter_id="M-P",
                system_id="P",
                serial="SN-P",
                model="SIM-203",
                accuracy_class=AccuracyClass.PCT_0_5,
                installed_on=datetime(2020, 1, 1).date(),
                register_modulus_wh=MOD,
            ),
        ],
    )
    conn.commit()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_stored_month_totals_equal_month_close(fresh_db: str, seed: int) -> None:
    """Each month the engine stored equals month close's energy for it."""
    rnd = random.Random(seed)
    points = fault_series(rnd, STARTS[seed % 2], MOD - rnd.randint(1, 300_000), 120)
    readings = [
        Reading(
            meter_id="M-P",
            ts=p.ts,
            energy_wh=p.energy_wh,
            source=Source.DAS,
            source_id="das-a",
            seq=n,
            received_at=p.ts,
            register_modulus_wh=MOD,
            event=p.event,
            flags=frozenset({QualityFlag.RESET}) if p.reset else frozenset(),
        )
        for n, p in enumerate(points)
    ]
    delivered = readings + rnd.sample(readings, k=len(readings) // 3)
    rnd.shuffle(delivered)
    with psycopg.connect(fresh_db) as conn:
        register(conn)
    async with await InProcessEngine.connect(
        fresh_db, clock=lambda: datetime(2027, 1, 1, tzinfo=UTC)
    ) as engine:
        for i in range(0, len(delivered), 7):
            await engine.submit(batch_bytes(delivered[i : i + 7]))
    with psycopg.connect(fresh_db) as conn:
        stored = {m: wh for (meter_id, m), wh in monthly_totals(conn).items() if meter_id == "M-P"}
        closed = {}
        for month in stored:
            start, end = month_bounds(month, ZoneInfo(ZONE))
            rows = month_points(conn, ["M-P"], start, end)["M-P"]
            close = meter_month(
                "M-P",
                [register_point(r) for r in rows],
                month,
                ZONE,
                KW,
                Thresholds(power_tolerance=TOLERANCE),
            )
            closed[month] = close.energy_wh
        flags = {
            f
            for (found,) in conn.execute("SELECT flags FROM meter_interval_energy").fetchall()
            for f in found
        }
    assert len(stored) >= 2  # the series crosses a month end (and a DST change)
    assert closed == stored
    assert {"rollover", "reset", "non_monotonic", "meter_replaced", "implausible_power"} <= flags
