"""Late readings into any closed month (certificates engineer's hunt, session 5): whatever
month a reading arriving after its close changes is held after that close (its credit taken
back in a later ledger entry, no export until amended), whether it is the previous month,
two months back, or a month of a quarter about to be exported; an amendment confirms it
once, and the same late readings never hold it again.

S: 10 kW, automatic, a register read at local midnight every day from Jun 30, 40,000 Wh a
day (July 1.240 MWh, August 1.240, September 1.200). The late reading 1,060,000 Wh at Jul 16
12:00 is 580,000 Wh below the register at midnight (a step back counted 0), and the rebound
to 1,680,000 Wh at Jul 17 00:00 is counted: July recounted is 1,820,000 Wh.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import psycopg
import pytest

from certification.roles import Account, Role
from certification.workflows.amend_month import amend
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import draft_export, export_quarter
from certification.workflows.load_registry import load_registry
from storage import certification_store
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import (
    NY,
    daily,
    reading,
    registry,
    system,
    utc,
)

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)
D = Decimal
LATE_JULY = reading("S", datetime(2026, 7, 16, 12, tzinfo=NY), 1_060_000)
HELD_JULY = (
    "late_readings",
    "2026-07 closed at 1240000 Wh; its readings now count 1820000 Wh (readings arrived "
    "after its close): held until amended",
)


def _ledger(conn: psycopg.Connection[object]) -> list[tuple[str, str, D, int, D]]:
    return [
        (r.month, r.entry, r.mwh, r.minted, r.carry_out) for r in certification_store.ledger(conn)
    ]


def test_a_late_reading_two_months_back_holds_that_month(fresh_db: str) -> None:
    """July and August closed; then the late July reading arrives. September's close holds
    July (not only the previous month, August, is checked): July's 1.240 is taken back
    (`late:2026-09`), 2026Q3 carries August and September only. The amendment confirming
    1,240,000 Wh books July again and sends its line in 2026Q4; October's close does not
    hold July a second time for the same late reading."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 11, 2), 40_000))
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        write_readings(conn, [LATE_JULY])
        september = close_month(conn, "2026-09", ADMIN, utc("2026-10-06T12:00"))
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        amend(conn, ADMIN, "S", "2026-07", 1_240_000, "glitch", "log.csv", utc("2026-10-08T12:00"))
        october = close_month(conn, "2026-10", ADMIN, utc("2026-11-06T12:00"))
        q4_draft = draft_export(conn, "2026Q4", ADMIN)
        ledger = _ledger(conn)
    assert september.systems[0].findings == [HELD_JULY]
    assert september.systems[0].held_by == ()
    assert q3 == "NON-S,08/2026,1.240\nNON-S,09/2026,1.200\n"
    assert october.systems[0].findings == []
    assert q4_draft == "NON-S,07/2026,1.240\nNON-S,10/2026,1.240\n"
    assert ledger == [
        ("2026-07", "close", D("1.240"), 1, D("0.240")),
        ("2026-08", "close", D("1.240"), 1, D("0.480")),
        ("2026-07", "late:2026-09", D("-1.240"), 0, D("-0.760")),
        ("2026-09", "close", D("1.200"), 0, D("0.440")),
        ("2026-07", "amendment:1", D("1.240"), 1, D("0.680")),
        ("2026-10", "close", D("1.240"), 1, D("0.920")),
    ]


def test_a_late_reading_before_the_export_keeps_its_month_out(fresh_db: str) -> None:
    """July, August and September closed (1 certificate each for July and August). The late
    July reading arrives on Oct 6, after September's close and before the 2026Q3 export: the
    export notices it, holds July (`late:2026Q3`, its credit taken back) and leaves it out;
    it does not send July's closed 1.240 MWh that its readings no longer support. The draft
    made before it already leaves July out, and holds nothing."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 10, 2), 40_000))
        for month, at in (("07", "08"), ("08", "09"), ("09", "10")):
            close_month(conn, f"2026-{month}", ADMIN, utc(f"2026-{at}-06T12:00"))
        write_readings(conn, [LATE_JULY])
        draft = draft_export(conn, "2026Q3", ADMIN)
        draft_holds = certification_store.holds_after_close(conn, "S")
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        holds = certification_store.holds_after_close(conn, "S")
        ledger = _ledger(conn)
    assert draft == q3 == "NON-S,08/2026,1.240\nNON-S,09/2026,1.200\n"
    assert draft_holds == []  # the draft shows what the export would send, records nothing
    assert [(h.month, h.code, h.detail, h.released) for h in holds] == [
        ("2026-07", *HELD_JULY, False)
    ]
    assert ledger == [
        ("2026-07", "close", D("1.240"), 1, D("0.240")),
        ("2026-08", "close", D("1.240"), 1, D("0.480")),
        ("2026-09", "close", D("1.200"), 1, D("0.680")),
        ("2026-07", "late:2026Q3", D("-1.240"), 0, D("-0.560")),
    ]


def test_a_month_held_after_its_export_is_retracted_then_restated(fresh_db: str) -> None:
    """July went out in 2026Q3 at 1.240 MWh. The late July reading arrives in November;
    December's close holds July and takes its credit back. 2026Q4 then retracts what NEPOOL
    GIS holds for July (`NON-S,07/2026,-1.240`: the ledger and GIS agree, no certificate
    stands on energy PTS flagged), and once July is amended to 1,000,000 Wh the next export
    sends July's 1.000."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2027, 1, 2), 40_000))
        for month, at in (("07", "08"), ("08", "09"), ("09", "10"), ("10", "11"), ("11", "12")):
            close_month(conn, f"2026-{month}", ADMIN, utc(f"2026-{at}-06T12:00"))
            if month == "09":
                export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        write_readings(conn, [LATE_JULY])
        close_month(conn, "2026-12", ADMIN, utc("2027-01-06T12:00"))
        q4 = export_quarter(conn, "2026Q4", ADMIN, utc("2027-01-07T12:00"), "UTC")
        amend(conn, ADMIN, "S", "2026-07", 1_000_000, "glitch", "log.csv", utc("2027-01-08T12:00"))
        q1_draft = draft_export(conn, "2027Q1", ADMIN)
    assert q4 == (
        "NON-S,07/2026,-1.240\nNON-S,10/2026,1.240\nNON-S,11/2026,1.200\nNON-S,12/2026,1.240\n"
    )
    assert q1_draft == "NON-S,07/2026,1.000\n"
