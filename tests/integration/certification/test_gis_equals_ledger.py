"""The NEPOOL GIS file equals the SREC ledger (certificates engineer, session 6): a system
with several meters is rounded once, on the sum of its meters' Wh (not meter by meter), and
a factor change between the close and the export changes neither the MWh sent nor the month's
credit. Guards: these pass today and must keep passing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg
import pytest

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
D = Decimal


def test_two_meters_are_rounded_once_on_their_sum(fresh_db: str) -> None:
    """M-A and M-B each register 40,013 Wh a day: July 1,240,403 Wh each, 2,480,806 Wh
    together = 2.481 MWh (meter by meter it would be 1.240 + 1.240 = 2.480). The ledger
    credits 2.481 (2 certificates, carry 0.481) and 2026Q3 sends July 2.481; a factor change
    to 0.8 loaded after the close and before the export changes neither."""
    doc = registry(system("AB", "20", "automatic"))
    doc["meters"] = [{**meter("AB"), "meter_id": "M-A"}, {**meter("AB"), "meter_id": "M-B"}]
    readings = [
        r.model_copy(update={"meter_id": meter_id})
        for meter_id in ("M-A", "M-B")
        for r in daily("AB", date(2026, 6, 30), date(2026, 10, 1), 40_013)
    ]
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, doc, D(10))
        write_readings(conn, readings)
        july = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00")).systems[0]
        doc["systems"][0]["srec_factor"] = "0.8"
        load_registry(conn, doc, D(10))
        close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        close_month(conn, "2026-09", ADMIN, utc("2026-10-06T12:00"))
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        ledger = [
            (r.month, r.mwh, r.factor, r.minted, r.carry_out)
            for r in certification_store.ledger(conn)
        ]
    assert [m.energy_wh for m in july.meters] == [1_240_403, 1_240_403]
    assert ledger == [
        ("2026-07", D("2.481"), D("1.0"), 2, D("0.481")),
        ("2026-08", D("2.481"), D("0.8"), 2, D("0.4658")),
        ("2026-09", D("2.401"), D("0.8"), 2, D("0.3866")),
    ]
    assert q3 == "NON-AB,07/2026,2.481\nNON-AB,08/2026,2.481\nNON-AB,09/2026,2.401\n"
