"""Paths a program administrator can take after a month closed, where flagged or questionable
energy could still be minted or exported (certificates engineer's hunt, after issue 10).

- An amendment is not exempt from the plausibility check month close applies: an amendment
  above capacity × the month's hours × the over-capacity factor is refused, not minted.
- A site audit recorded after its month closed, that finds the register beyond the meter's
  accuracy, holds that month: the credit the close booked is taken back in the ledger, the
  month goes into no export until an amendment states it, and the amendment books it again.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import psycopg
import pytest

from certification.errors import Refused
from certification.roles import Account, Role
from certification.workflows.accept_month import accept_month
from certification.workflows.amend_month import amend
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import draft_export, export_quarter
from certification.workflows.load_registry import load_registry
from certification.workflows.record_audit import record_audit
from certification.workflows.trace_certificates import certification_report
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


def test_an_amendment_beyond_what_the_system_can_produce_is_refused(fresh_db: str) -> None:
    """10 kW in July (744 h) × 0.30 = 2,232,000 Wh at most: an amendment to the glitch value
    42,949,668,850 Wh (or to 2,232,001) is refused and books nothing; 2,232,000 is booked."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 8, 2), 40_000))
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        refusals = []
        for wh in (42_949_668_850, 2_232_001):
            with pytest.raises(Refused) as caught:
                amend(conn, ADMIN, "S", "2026-07", wh, "typo", "x.pdf", utc("2026-08-09T12:00"))
            refusals.append(caught.value.code)
        amend(conn, ADMIN, "S", "2026-07", 2_232_000, "audit", "a.pdf", utc("2026-08-09T13:00"))
        ledger = [(r.month, r.entry, r.mwh, r.minted) for r in certification_store.ledger(conn)]
    assert refusals == ["amendment_implausible", "amendment_implausible"]
    assert ledger == [
        ("2026-07", "close", D("1.240"), 1),
        ("2026-07", "amendment:1", D("0.992"), 1),  # 0.992 + carry 0.240 = 1.232
    ]


def test_a_mismatching_audit_after_close_holds_the_month_until_amended(fresh_db: str) -> None:
    """July closed at 1.240 MWh and minted 1 certificate. An audit on Aug 10 reads the
    register at 1,300,000 Wh on Jul 16 00:00 where 1,640,000 Wh were reported (53% of the
    640,000 Wh produced; ±1% allowed): the ledger takes July's 1.240 back (carry −1.000),
    2026Q3 leaves July out, and the amendment to 1,000,000 Wh books 1.000 and sends July's
    own line in the next export."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 10, 2), 40_000))
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        audit = record_audit(
            conn, ADMIN, "M-S", datetime(2026, 7, 16), 1_300_000, "photo.jpg",
            utc("2026-08-10T12:00"),
        )  # fmt: skip
        close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        close_month(conn, "2026-09", ADMIN, utc("2026-10-06T12:00"))
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        held_report = certification_report(conn, "S").splitlines()[-1]
        with pytest.raises(Refused) as accepted:
            accept_month(conn, ADMIN, "S", "2026-07", "looks fine", utc("2026-10-08T12:00"))
        amend(conn, ADMIN, "S", "2026-07", 1_000_000, "audit", "a.pdf", utc("2026-10-09T12:00"))
        q4_draft = draft_export(conn, "2026Q4", ADMIN)
        amended_report = certification_report(conn, "S")
        ledger = [
            (r.month, r.entry, r.mwh, r.minted, r.carry_out)
            for r in certification_store.ledger(conn)
        ]
    assert audit.verdict.value == "mismatch"
    assert accepted.value.code == "held_after_close"  # amend it: the same energy confirms it
    assert q3 == "NON-S,08/2026,1.240\nNON-S,09/2026,1.200\n"
    assert ledger == [
        ("2026-07", "close", D("1.240"), 1, D("0.240")),
        ("2026-07", "audit:1", D("-1.240"), 0, D("-1.000")),
        ("2026-08", "close", D("1.240"), 0, D("0.240")),
        ("2026-09", "close", D("1.200"), 1, D("0.440")),
        ("2026-07", "amendment:1", D("1.000"), 1, D("0.440")),
    ]
    assert held_report == (
        "  2026-07: HELD after its close by audit_mismatch: site audit 1 at "
        "2026-07-16T00:00:00-04:00 disagrees with the reports beyond the meter's accuracy; "
        "amend the month; no export until amended"
    )
    assert "HELD" not in amended_report
    assert q4_draft == "NON-S,07/2026,1.000\n"


def test_late_readings_that_change_a_closed_month_hold_it(fresh_db: str) -> None:
    """S's July closed at 1.240 MWh (1 certificate). On Aug 10 a late reading arrives inside
    it: 1,060,000 Wh at Jul 16 12:00, 580,000 Wh below the register at midnight (counted 0),
    the rebound 620,000 Wh in 12 h (counted, implausible): July recounted is 1,820,000 Wh.
    August's close notices it: July is held after its close (credit taken back, not in
    2026Q3) until amended. G's late readings only fill a gap July's close had bridged by
    interpolation (the same 1,240,000 Wh recounted): nothing is held."""
    g_all = daily("G", date(2026, 6, 30), date(2026, 9, 2), 40_000)
    filled = [
        r
        for r in g_all
        if datetime(2026, 7, 20, tzinfo=NY) < r.ts < datetime(2026, 8, 3, tzinfo=NY)
    ]
    with psycopg.connect(fresh_db) as conn:
        load_registry(
            conn, registry(system("S", "10", "automatic"), system("G", "10", "automatic")), D(10)
        )
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 9, 2), 40_000))
        write_readings(conn, [r for r in g_all if r not in filled])
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        write_readings(conn, [reading("S", datetime(2026, 7, 16, 12, tzinfo=NY), 1_060_000)])
        write_readings(conn, filled)
        august = close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        draft = draft_export(conn, "2026Q3", ADMIN)
        amend(conn, ADMIN, "S", "2026-07", 1_240_000, "glitch", "log.csv", utc("2026-09-08T12:00"))
        after = draft_export(conn, "2026Q3", ADMIN)
        ledger = [
            (r.system_id, r.month, r.entry, r.mwh, r.minted, r.carry_out)
            for r in certification_store.ledger(conn)
        ]
    findings = {s.system.system_id: s.findings for s in august.systems}
    assert findings == {
        "G": [],
        "S": [
            (
                "late_readings",
                "2026-07 closed at 1240000 Wh; its readings now count 1820000 Wh (readings "
                "arrived after its close): held until amended",
            )
        ],
    }
    assert [s.held_by for s in august.systems] == [(), ()]  # August itself is not held
    assert draft == "NON-G,07/2026,1.240\nNON-G,08/2026,1.240\nNON-S,08/2026,1.240\n"
    assert after == (
        "NON-G,07/2026,1.240\nNON-G,08/2026,1.240\nNON-S,07/2026,1.240\nNON-S,08/2026,1.240\n"
    )
    assert ledger == [
        ("G", "2026-07", "close", D("1.240"), 1, D("0.240")),
        ("G", "2026-08", "close", D("1.240"), 1, D("0.480")),
        ("S", "2026-07", "close", D("1.240"), 1, D("0.240")),
        ("S", "2026-07", "late:2026-08", D("-1.240"), 0, D("-1.000")),
        ("S", "2026-08", "close", D("1.240"), 0, D("0.240")),
        ("S", "2026-07", "amendment:1", D("1.240"), 1, D("0.480")),
    ]
