"""A meter of a multi-meter system silent for a month, then reporting again (certificates
engineer, session 6): its energy over the silent month is counted by the close where it
resumes, so that close bounds the system's meters together over the whole window since it
stopped, the energy earlier closes certified for the other meters included. Before, the
silent month certified the other meter alone (bounded by the whole system's capacity) and
the resuming close compared only its own month's part of the others: together a 10 kW
system could mint beyond what it can produce."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg
import pytest

from certification.roles import Account, Role
from certification.workflows.close_month import close_month
from certification.workflows.load_registry import load_registry
from storage import certification_store
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import daily, meter, registry, system, utc

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)
D = Decimal


def test_a_resuming_meter_is_bounded_with_what_the_others_certified(fresh_db: str) -> None:
    """AB is 10 kW with meters A and B, each registering 40,000 Wh a day (80,000 together: a
    capacity factor of 0.33, above 0.30). B reports on Jun 30 and Jul 1, then not until
    Aug 15. July certifies A's 1,240,000 Wh alone (1 certificate; B estimated). August counts
    A's 1,240,000 and B's 2,480,000 since Jul 1: with July's 1,240,000, the system registered
    4,960,000 Wh from Jul 1 to Sep 1, above 10 kW × 1,488 h × 0.30 = 4,464,000 Wh: August is
    held (before: compared 3,720,000 with 4,464,000 and minted 3 more certificates)."""
    doc = registry(system("AB", "10", "automatic"))
    doc["meters"] = [{**meter("AB"), "meter_id": "M-A"}, {**meter("AB"), "meter_id": "M-B"}]
    a = daily("AB", date(2026, 6, 30), date(2026, 9, 1), 40_000)
    b = [r.model_copy(update={"meter_id": "M-B"}) for r in a]
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, doc, D(10))
        write_readings(conn, [r.model_copy(update={"meter_id": "M-A"}) for r in a])
        write_readings(conn, [r for r in b if r.ts.date() <= date(2026, 7, 1)])
        july = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00")).systems[0]
        write_readings(conn, [r for r in b if r.ts.date() >= date(2026, 8, 15)])  # B resumes
        august = close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00")).systems[0]
        ledger = [(r.month, r.mwh, r.minted) for r in certification_store.ledger(conn)]
    assert (july.certified_wh, july.minted) == (1_240_000, 1)
    assert [(m.meter_id, m.energy_wh) for m in august.meters] == [
        ("M-A", 1_240_000),
        ("M-B", 2_480_000),
    ]
    assert (august.certified_wh, august.held_by, august.minted) == (
        3_720_000,
        ("over_capacity",),
        0,
    )
    assert [msg for code, msg in august.findings if code == "over_capacity"] == [
        "the system's meters from 2026-07 to 2026-08 (a meter counted again from "
        "2026-07-01T04:00:00+00:00): 4960000 Wh (1240000 Wh certified by earlier closes) is "
        "above 10 kW × 1488 h × 0.30 = 4464000 Wh"
    ]
    assert ledger == [("2026-07", D("1.240"), 1)]
