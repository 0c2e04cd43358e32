"""What a closed month says about itself where people read it: an amended month is flagged
`edited` (the close itself is never overwritten), an estimated one `estimated`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from certification.roles import Account, Role
from certification.workflows.amend_month import amend
from certification.workflows.close_month import close_month
from certification.workflows.load_registry import load_registry
from certification.workflows.trace_certificates import certification_report
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import daily, registry, system, utc

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)
CLOSED = (
    "SELECT system_id, month, energy_wh, certified_wh, stated_wh, mwh, held, flags "
    "FROM analyst_closed_monthly ORDER BY system_id, month"
)


def test_an_amended_month_is_flagged_edited_and_its_close_kept(fresh_db: str) -> None:
    """July closed at 1,240,000 Wh and amended to 1,300,000: the closed-month view states
    1,300,000 Wh flagged `edited`, the close still says 1,240,000, August is not edited, and
    the certification report marks July's meter line edited."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), Decimal(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 9, 2), 40_000))
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        amend(conn, ADMIN, "S", "2026-07", 1_300_000, "audit", "a.pdf", utc("2026-09-08T12:00"))
        rows: list[tuple[Any, ...]] = conn.execute(CLOSED).fetchall()
        closes = conn.execute("SELECT month, energy_wh FROM month_closes ORDER BY 1").fetchall()
        report = certification_report(conn, "S").splitlines()
    assert rows == [
        ("S", "2026-07", 1_240_000, 1_240_000, 1_300_000, Decimal("1.300"), False, ["edited"]),
        ("S", "2026-08", 1_240_000, 1_240_000, 1_240_000, Decimal("1.240"), False, []),
    ]
    assert closes == [("2026-07", 1_240_000), ("2026-08", 1_240_000)]
    assert report[2] == (
        "    meter M-S: 1240000 Wh (31 readings) from 1040000 Wh @ 2026-07-01T00:00:00-04:00 to "
        "2280000 Wh @ 2026-08-01T00:00:00-04:00; edited: amendment 1 states the month "
        "1300000 Wh"
    )


def test_analysts_read_estimated_months_flagged(fresh_db: str) -> None:
    """As pts_analyst: MM's meter B is silent in July (estimated at its share, 10 kW × 150 kWh =
    1,500,000 Wh, never certified) while meter A made 1,240,000 Wh; EST is silent all July (10 kW ×
    150 kWh = 1,500,000 Wh). Both rows carry the flag `estimated` and name the meters."""
    document = registry(system("MM", "20", "automatic"), system("EST", "10", "automatic"))
    document["meters"] = [
        {**document["meters"][0], "meter_id": "MM-A"},
        {**document["meters"][0], "meter_id": "MM-B", "serial": "SN-MM-B"},
        document["meters"][1],
    ]
    readings = [
        r.model_copy(update={"meter_id": "MM-A"})
        for r in daily("MM", date(2026, 6, 30), date(2026, 8, 2), 40_000)
    ]
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, document, Decimal(10))
        write_readings(conn, readings)
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        conn.commit()
        conn.execute("SET ROLE pts_analyst")
        rows = conn.execute(
            "SELECT system_id, energy_wh, certified_wh, estimated_meters, flags "
            "FROM analyst_closed_monthly ORDER BY system_id"
        ).fetchall()
    assert rows == [
        ("EST", 1_500_000, 0, ["M-EST"], ["estimated"]),
        ("MM", 2_740_000, 1_240_000, ["MM-B"], ["estimated"]),
    ]
