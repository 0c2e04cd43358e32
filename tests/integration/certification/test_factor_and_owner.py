"""The system's SREC factor and REC Owner over time (certificates engineer's hunt, session 5):
a month keeps the factor it was minted at, so taking its credit back and booking it again
after the factor changed never mints a certificate its energy does not carry."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import psycopg
import pytest

from certification.change_requests import Status
from certification.errors import Refused
from certification.roles import Account, Role
from certification.workflows.accept_month import accept_month
from certification.workflows.amend_month import amend
from certification.workflows.change_requests import (
    decide_change_request,
    request_rec_owner_change,
)
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import export_quarter
from certification.workflows.load_registry import load_registry
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


def test_a_month_keeps_the_factor_it_was_minted_at(fresh_db: str) -> None:
    """S (factor 1.0) mints July 1.240 MWh: 1 certificate, carry 0.240. The registry is
    reloaded with factor 0.8; a late reading holds July at August's close: the take-back is
    −1.240 × 1.0 (what July was credited), carry −1.000; August 1.240 × 0.8 = 0.992, carry
    −0.008; July amended to 1,000,000 Wh books 1.000 × 1.0, carry 0.992. In all 1.992 credits
    and 1 certificate (not 2: at today's factor the take-back would return only 0.992)."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 9, 2), 40_000))
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        load_registry(
            conn, registry({**system("S", "10", "automatic"), "srec_factor": "0.8"}), D(10)
        )
        write_readings(conn, [reading("S", datetime(2026, 7, 16, 12, tzinfo=NY), 1_060_000)])
        close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        amend(conn, ADMIN, "S", "2026-07", 1_000_000, "glitch", "log.csv", utc("2026-09-08T12:00"))
        ledger = [
            (r.month, r.entry, r.mwh, r.factor, r.minted, r.carry_out)
            for r in certification_store.ledger(conn)
        ]
    assert ledger == [
        ("2026-07", "close", D("1.240"), D("1.0"), 1, D("0.240")),
        ("2026-07", "late:2026-08", D("-1.240"), D("1.0"), 0, D("-1.000")),
        ("2026-08", "close", D("1.240"), D("0.8"), 0, D("-0.008")),
        ("2026-07", "amendment:1", D("1.000"), D("1.0"), 0, D("0.992")),
    ]


def test_energy_above_capacity_cannot_be_accepted_as_reported(fresh_db: str) -> None:
    """10 kW reporting 100,000 Wh a day: July 3,100,000 Wh is above 10 kW × 744 h × 0.30 =
    2,232,000 Wh (over_capacity holds it). Accepting it as reported would mint 3 certificates
    from energy close calls impossible: refused (`accept_implausible`), nothing minted; an
    amendment (bounded by the same limit) releases it."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 8, 2), 100_000))
        july = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00")).systems[0]
        with pytest.raises(Refused) as accepted:
            accept_month(conn, ADMIN, "S", "2026-07", "owner says so", utc("2026-08-07T12:00"))
        before = certification_store.ledger(conn)
        amend(
            conn, ADMIN, "S", "2026-07", 1_240_000, "meter read", "p.jpg", utc("2026-08-08T12:00")
        )
        after = [(r.entry, r.mwh, r.minted) for r in certification_store.ledger(conn)]
    assert (july.energy_wh, july.held_by) == (3_100_000, ("over_capacity",))
    assert accepted.value.code == "accept_implausible"
    assert before == []
    assert after == [("amendment:1", D("1.240"), 1)]


def test_a_rec_owner_change_keeps_each_owners_months_and_carry(fresh_db: str) -> None:
    """S's REC Owner is owner-1 (its System Owner). July mints 1 certificate to owner-1
    (carry 0.240). On Aug 15 the change to buyer-9 is approved: August mints to buyer-9 from
    buyer-9's own carry (0): 1 certificate, carry 0.240. A late July reading holds July at
    September's close: the take-back is owner-1's (owner-1's carry 0.240 − 1.240 = −1.000,
    a debt against owner-1's certificates), so September mints buyer-9's 1.200 + 0.240 =
    1.440: 1 certificate (owner-1's take-back would otherwise have cost buyer-9 it)."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 10, 2), 40_000))
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        request_rec_owner_change(
            conn, "owner-1", "S", "r1", "buyer-9", "doc://transfer.pdf", utc("2026-08-10T12:00")
        )
        decide_change_request(conn, "staff-1", "S", "r1", Status.APPROVED, utc("2026-08-15T12:00"))
        close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        write_readings(conn, [reading("S", datetime(2026, 7, 16, 12, tzinfo=NY), 1_060_000)])
        close_month(conn, "2026-09", ADMIN, utc("2026-10-06T12:00"))
        ledger = [
            (r.month, r.entry, r.rec_owner_id, r.mwh, r.minted, r.carry_out)
            for r in certification_store.ledger(conn)
        ]
        report = certification_report(conn, "S").splitlines()
    assert ledger == [
        ("2026-07", "close", "owner-1", D("1.240"), 1, D("0.240")),
        ("2026-08", "close", "buyer-9", D("1.240"), 1, D("0.240")),
        ("2026-07", "late:2026-09", "owner-1", D("-1.240"), 0, D("-1.000")),
        ("2026-09", "close", "buyer-9", D("1.200"), 1, D("0.440")),
    ]
    assert [line for line in report if " close: " in line][:2] == [
        "  2026-07 close: 1.240 MWh × 1 + carry 0 → 1 minted, carry 0.24; certificates "
        "NON-S-000001..NON-S-000001; REC Owner owner-1",
        "  2026-08 close: 1.240 MWh × 1 + carry 0 → 1 minted, carry 0.24; certificates "
        "NON-S-000002..NON-S-000002; REC Owner buyer-9",
    ]


def test_a_take_back_is_booked_after_the_rec_terms_were_withdrawn(fresh_db: str) -> None:
    """July to September minted while S had accepted the REC terms, and 2026Q3 sent them; a
    registry load then says the terms are not accepted. A late July reading holds July at
    October's close: its credit is still taken back (−1.240), and 2026Q4 still retracts
    July's line (`NON-S,07/2026,-1.240`) though S's own months no longer go out."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2027, 1, 2), 40_000))
        for month, at in (("07", "08"), ("08", "09"), ("09", "10")):
            close_month(conn, f"2026-{month}", ADMIN, utc(f"2026-{at}-06T12:00"))
        export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        load_registry(conn, registry(system("S", "10", "automatic", terms=False)), D(10))
        write_readings(conn, [reading("S", datetime(2026, 7, 16, 12, tzinfo=NY), 1_060_000)])
        for month, at in (("2026-10", "2026-11"), ("2026-11", "2026-12"), ("2026-12", "2027-01")):
            close_month(conn, month, ADMIN, utc(f"{at}-06T12:00"))
        q4 = export_quarter(conn, "2026Q4", ADMIN, utc("2027-01-07T12:00"), "UTC")
        ledger = [
            (r.month, r.entry, r.mwh, r.minted, r.carry_out)
            for r in certification_store.ledger(conn)
        ]
    assert ledger == [
        ("2026-07", "close", D("1.240"), 1, D("0.240")),
        ("2026-08", "close", D("1.240"), 1, D("0.480")),
        ("2026-09", "close", D("1.200"), 1, D("0.680")),
        ("2026-07", "late:2026-10", D("-1.240"), 0, D("-0.560")),
    ]
    assert q4 == "NON-S,07/2026,-1.240\n"
