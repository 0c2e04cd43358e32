"""Issue 10 items 3 and 6: a silent meter makes only its own part of a system-month an
estimate; closing is per system-month, so a system registered after a month was closed can
close (and certify) that month later, and re-closing a closed system-month is refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from certification.errors import MonthLockedError
from certification.roles import Account, Role
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import export_quarter
from certification.workflows.load_registry import load_registry
from storage import certification_store
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import (
    daily,
    meter,
    registry,
    system,
    utc,
)

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)


def test_one_silent_meter_estimates_only_its_part(fresh_db: str) -> None:
    """Two meters on a 20 kW system; M-A registers 40 kWh a day all July, M-B nothing. July
    states 1.240 MWh metered + 1.500 MWh estimated for M-B (its share, 20 kW / 2 meters ×
    150 kWh/kW: the estimate is reported, never certified); 1.240 MWh mints 1 SREC and is
    exported as July's line."""
    doc = registry(system("AB", "20", "automatic"))
    doc["meters"] = [{**meter("AB"), "meter_id": "M-A"}, {**meter("AB"), "meter_id": "M-B"}]
    readings = [r.model_copy(update={"meter_id": "M-A"}) for r in daily(
        "AB", date(2026, 6, 30), date(2026, 10, 1), 40_000
    )]  # fmt: skip
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, doc, Decimal(10))
        write_readings(conn, readings)
        july = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00")).systems[0]
        close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        close_month(conn, "2026-09", ADMIN, utc("2026-10-06T12:00"))
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        ledger = [(r.month, r.mwh, r.minted) for r in certification_store.ledger(conn)]
    assert [(m.meter_id, m.energy_wh, m.estimated) for m in july.meters] == [
        ("M-A", 1_240_000, False),
        ("M-B", 1_500_000, True),
    ]
    assert (july.energy_wh, july.certified_wh, july.estimated, july.minted) == (
        2_740_000,
        1_240_000,
        True,
        1,
    )
    assert ledger == [
        ("2026-07", Decimal("1.240"), 1),
        ("2026-08", Decimal("1.240"), 1),
        ("2026-09", Decimal("1.200"), 1),
    ]
    assert q3 == "NON-AB,07/2026,1.240\nNON-AB,08/2026,1.240\nNON-AB,09/2026,1.200\n"


def test_a_system_registered_after_its_months_closed_closes_them_later(fresh_db: str) -> None:
    """EARLY closes July–September and is exported in 2026Q3; LATE, registered in October
    with readings since June 30, then closes July, August and September itself (in order),
    each once, and its three months go out in the next export (2026Q4) with its own."""
    early = registry(system("EARLY", "10", "automatic"))
    late: dict[str, Any] = {
        "systems": [system("LATE", "10", "automatic")],
        "meters": [meter("LATE")],
    }
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, early, Decimal(10))
        write_readings(conn, daily("EARLY", date(2026, 6, 30), date(2027, 1, 2), 40_000))
        for month, at in (("07", "08"), ("08", "09"), ("09", "10")):
            close_month(conn, f"2026-{month}", ADMIN, utc(f"2026-{at}-06T12:00"))
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        load_registry(conn, late, Decimal(10))
        write_readings(conn, daily("LATE", date(2026, 6, 30), date(2027, 1, 2), 30_000))
        with pytest.raises(MonthLockedError) as early_again:
            close_month(conn, "2026-07", ADMIN, utc("2026-10-08T12:00"), system_id="EARLY")
        july = close_month(conn, "2026-07", ADMIN, utc("2026-10-08T12:00"))
        with pytest.raises(MonthLockedError) as all_closed:
            close_month(conn, "2026-07", ADMIN, utc("2026-10-08T12:00"))
        august = close_month(conn, "2026-08", ADMIN, utc("2026-10-08T12:00"), system_id="LATE")
        september = close_month(conn, "2026-09", ADMIN, utc("2026-10-08T12:00"))
        for month, at in (("10", "2026-11"), ("11", "2026-12"), ("12", "2027-01")):
            close_month(conn, f"2026-{month}", ADMIN, utc(f"{at}-06T12:00"))
        q4 = export_quarter(conn, "2026Q4", ADMIN, utc("2027-01-07T12:00"), "UTC")
        late_ledger = [
            (r.month, r.mwh) for r in certification_store.ledger(conn) if r.system_id == "LATE"
        ]
    assert q3 == "NON-EARLY,07/2026,1.240\nNON-EARLY,08/2026,1.240\nNON-EARLY,09/2026,1.200\n"
    assert (early_again.value.code, all_closed.value.code) == ("month_closed", "month_closed")
    assert [(s.system.system_id, s.energy_wh) for s in july.systems] == [("LATE", 930_000)]
    assert [(s.system.system_id, s.energy_wh) for s in august.systems] == [("LATE", 930_000)]
    assert [(s.system.system_id, s.energy_wh) for s in september.systems] == [("LATE", 900_000)]
    assert late_ledger == [
        ("2026-07", Decimal("0.930")),
        ("2026-08", Decimal("0.930")),
        ("2026-09", Decimal("0.900")),
        ("2026-10", Decimal("0.930")),
        ("2026-11", Decimal("0.900")),
        ("2026-12", Decimal("0.930")),
    ]
    assert q4 == (
        "NON-EARLY,10/2026,1.240\nNON-EARLY,11/2026,1.200\nNON-EARLY,12/2026,1.240\n"
        "NON-LATE,07/2026,0.930\nNON-LATE,08/2026,0.930\nNON-LATE,09/2026,0.900\n"
        "NON-LATE,10/2026,0.930\nNON-LATE,11/2026,0.900\nNON-LATE,12/2026,0.930\n"
    )


def test_a_held_month_does_not_feed_next_years_estimate(fresh_db: str) -> None:
    """A 1 kW system's July 2025 (10 kWh a day: over capacity, held) is not history: July
    2026, silent, is estimated from capacity (1 kW × 150 kWh), not from the held 310 kWh."""
    from datetime import date as day

    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("ONE", "1", "automatic")), Decimal(10))
        write_readings(conn, daily("ONE", day(2025, 6, 30), day(2025, 8, 1), 10_000))
        months = [f"2025-{m:02d}" for m in range(7, 13)] + [f"2026-{m:02d}" for m in range(1, 8)]
        reports = [close_month(conn, m, ADMIN, utc("2026-08-06T12:00")) for m in months]
    first, last = reports[0].systems[0], reports[-1].systems[0]
    assert (first.energy_wh, first.held_by) == (310_000, ("over_capacity",))
    assert (last.energy_wh, last.estimated) == (150_000, True)
