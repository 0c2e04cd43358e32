"""A silent meter of a multi-meter system is estimated at its share of the system: the
registry has no capacity per meter, so the system's capacity (and its history) split by the
meters active in the month."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg
import pytest

from certification.roles import Account, Role
from certification.workflows.close_month import close_month
from certification.workflows.load_registry import load_registry
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import daily, registry, system, utc

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)


def test_a_silent_meter_is_estimated_at_its_share(fresh_db: str) -> None:
    """MM (20 kW DC) has two meters; B is silent all July: its estimate is 20 kW / 2 × 150
    kWh per kW = 1,500,000 Wh (not the whole system's 3,000,000), beside A's metered
    1,240,000 Wh, of which only A's is certified."""
    document = registry(system("MM", "20", "automatic"))
    document["meters"] = [
        {**document["meters"][0], "meter_id": "MM-A"},
        {**document["meters"][0], "meter_id": "MM-B", "serial": "SN-MM-B"},
    ]
    readings = [
        r.model_copy(update={"meter_id": "MM-A"})
        for r in daily("MM", date(2026, 6, 30), date(2026, 8, 2), 40_000)
    ]
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, document, Decimal(10))
        write_readings(conn, readings)
        (july,) = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00")).systems
    assert [(m.meter_id, m.energy_wh, m.estimated) for m in july.meters] == [
        ("MM-A", 1_240_000, False),
        ("MM-B", 1_500_000, True),
    ]
    assert (july.energy_wh, july.certified_wh) == (2_740_000, 1_240_000)
    assert july.findings == [
        (
            "missing_month",
            "MM-B: no readings for 2026-07: estimated from capacity × typical yield "
            "(its share: 10 kW DC of 20 kW DC, 2 meters), not actual",
        )
    ]
