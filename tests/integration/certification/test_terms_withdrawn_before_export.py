"""REC terms withdrawn after months were credited but before their quarter's NEPOOL GIS export
(certificates engineer, session 6). The terms in force at the export decide (DOMAIN.md: only
systems with terms accepted are exported), so those months are not sent; the ledger's credit
for what no export sent is taken back by that export (entry `terms:<quarter>`), so the
ledger, the export and the certification report agree. What an earlier export sent stays."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from certification.roles import Account, Role
from certification.workflows.amend_month import amend
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import draft_export, export_quarter
from certification.workflows.load_registry import load_registry
from certification.workflows.trace_certificates import certification_report
from storage import certification_store
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import daily, registry, system, utc

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)
D = Decimal


def _credited(conn: psycopg.Connection[object]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for r in certification_store.ledger(conn):
        out[r.month] += r.mwh
    return {month: mwh for month, mwh in out.items() if mwh}


def _exported(conn: psycopg.Connection[object]) -> dict[str, Decimal]:
    return {m: mwh for (_, m), mwh in certification_store.exported_mwh(conn).items() if mwh}


def test_months_credited_then_terms_withdrawn_are_taken_back_by_the_export(
    fresh_db: str,
) -> None:
    """S (terms accepted) closes July 1.240, August 1.240, September 1.200 MWh: 1 certificate
    each, carry 0.680. A registry load then withdraws the terms; 2026Q3 is exported: it sends
    nothing, and the ledger takes each month back (−1.240, −1.240, −1.200: carry −0.560,
    −1.800, −3.000, the 3 certificates owed back), so credited == exported == {} (before the
    fix: 3.680 MWh credited, nothing sent). The terms accepted again, staff confirm August at
    its metered 1,240,000 Wh: +1.240 (carry −1.760, no certificate) and 2026Q4's draft sends
    August once; July, never confirmed, neither credited nor sent."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 10, 2), 40_000))
        for month, at in (("07", "08"), ("08", "09"), ("09", "10")):
            close_month(conn, f"2026-{month}", ADMIN, utc(f"2026-{at}-06T12:00"))
        load_registry(conn, registry(system("S", "10", "automatic", terms=False)), D(10))
        draft = draft_export(conn, "2026Q3", ADMIN)
        after_draft = len(certification_store.ledger(conn))
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        credited_q3, exported_q3 = _credited(conn), _exported(conn)
        report = certification_report(conn, "S").splitlines()
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        amend(
            conn,
            ADMIN,
            "S",
            "2026-08",
            1_240_000,
            "REC terms accepted again: certify August as metered",
            "terms.pdf",
            utc("2026-10-08T12:00"),
        )
        q4_draft = draft_export(conn, "2026Q4", ADMIN)
        ledger = [
            (r.month, r.entry, r.mwh, r.minted, r.carry_out)
            for r in certification_store.ledger(conn)
        ]
    assert (draft, after_draft) == ("", 3)
    assert q3 == ""
    assert credited_q3 == exported_q3 == {}
    assert ledger == [
        ("2026-07", "close", D("1.240"), 1, D("0.240")),
        ("2026-08", "close", D("1.240"), 1, D("0.480")),
        ("2026-09", "close", D("1.200"), 1, D("0.680")),
        ("2026-07", "terms:2026Q3", D("-1.240"), 0, D("-0.560")),
        ("2026-08", "terms:2026Q3", D("-1.240"), 0, D("-1.800")),
        ("2026-09", "terms:2026Q3", D("-1.200"), 0, D("-3.000")),
        ("2026-08", "amendment:1", D("1.240"), 0, D("-1.760")),
    ]
    assert [line for line in report if "terms:2026Q3" in line] == [
        "  2026-07 terms:2026Q3: -1.240 MWh × 1 + carry 0.68 → 0 minted, carry -0.56; "
        "no certificate",
        "  2026-08 terms:2026Q3: -1.240 MWh × 1 + carry -0.56 → 0 minted, carry -1.8; "
        "no certificate",
        "  2026-09 terms:2026Q3: -1.200 MWh × 1 + carry -1.8 → 0 minted, carry -3; no certificate",
    ]
    assert q4_draft == "NON-S,08/2026,1.240\n"


def test_terms_accepted_again_before_the_export_keep_the_credit(fresh_db: str) -> None:
    """Withdrawn and accepted again before 2026Q3 is exported: the terms are in force at the
    export, so July to September go out with what the ledger credited and nothing is taken
    back."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 10, 2), 40_000))
        for month, at in (("07", "08"), ("08", "09"), ("09", "10")):
            close_month(conn, f"2026-{month}", ADMIN, utc(f"2026-{at}-06T12:00"))
        load_registry(conn, registry(system("S", "10", "automatic", terms=False)), D(10))
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        entries = [r.entry for r in certification_store.ledger(conn)]
    assert q3 == "NON-S,07/2026,1.240\nNON-S,08/2026,1.240\nNON-S,09/2026,1.200\n"
    assert entries == ["close", "close", "close"]
