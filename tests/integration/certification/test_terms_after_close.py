"""REC terms accepted after some months closed (certificates engineer, session 6): those
months were never credited by the SREC ledger (no terms, no credit), so the NEPOOL GIS
export must not send them on acceptance either: the export and the ledger never disagree.
An amendment after acceptance credits such a month, and the next export carries it once."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from certification.errors import Refused
from certification.roles import Account, Role
from certification.workflows.amend_month import amend
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import draft_export, export_quarter
from certification.workflows.load_registry import load_registry
from storage import certification_store
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import daily, registry, system, utc

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)
D = Decimal


def _ledger_by_month(conn: psycopg.Connection[object]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for r in certification_store.ledger(conn):
        out[r.month] += r.mwh
    return dict(out)


def _exported_by_month(conn: psycopg.Connection[object]) -> dict[str, Decimal]:
    return {month: mwh for (_, month), mwh in certification_store.exported_mwh(conn).items()}


def test_months_closed_before_the_rec_terms_are_not_exported_on_acceptance(
    fresh_db: str,
) -> None:
    """S meters 40,000 Wh a day but has not accepted the REC terms: July to September close
    with 1.240, 1.240 and 1.200 MWh and the ledger credits nothing. S then accepts the terms;
    2026Q3 is exported: it carries none of them (before the fix: all three lines, certificates
    GIS would create that PTS never minted). July amended after acceptance (1,200,000 Wh, an
    audit) books 1.200 (1 certificate); 2026Q4 carries July once with the ledger's 1.200 besides
    October to December (credited at close); 2027Q1's draft carries nothing of 2026. August
    and September, never amended, stay uncredited and unexported."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic", terms=False)), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2027, 1, 2), 40_000))
        for month, at in (("07", "08"), ("08", "09"), ("09", "10")):
            close_month(conn, f"2026-{month}", ADMIN, utc(f"2026-{at}-06T12:00"))
        assert certification_store.ledger(conn) == []
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        assert q3 == ""
        assert _exported_by_month(conn) == _ledger_by_month(conn) == {}

        amend(
            conn,
            ADMIN,
            "S",
            "2026-07",
            1_200_000,
            "meter audit after the REC terms were accepted",
            "audit.pdf",
            utc("2026-10-08T12:00"),
        )
        for month, at in (("2026-10", "2026-11"), ("2026-11", "2026-12"), ("2026-12", "2027-01")):
            close_month(conn, month, ADMIN, utc(f"{at}-06T12:00"))
        q4 = export_quarter(conn, "2026Q4", ADMIN, utc("2027-01-07T12:00"), "UTC")
        ledger = [
            (r.month, r.entry, r.mwh, r.minted, r.carry_out)
            for r in certification_store.ledger(conn)
        ]
        exported = _exported_by_month(conn)
        credited = _ledger_by_month(conn)
        carried = [
            (a.amendment_id, a.exported_in) for a in certification_store.amendments(conn, "S")
        ]
        q1_draft = draft_export(conn, "2027Q1", ADMIN)
    assert ledger == [
        ("2026-07", "amendment:1", D("1.200"), 1, D("0.200")),
        ("2026-10", "close", D("1.240"), 1, D("0.440")),
        ("2026-11", "close", D("1.200"), 1, D("0.640")),
        ("2026-12", "close", D("1.240"), 1, D("0.880")),
    ]
    assert q4 == (
        "NON-S,07/2026,1.200\nNON-S,10/2026,1.240\nNON-S,11/2026,1.200\nNON-S,12/2026,1.240\n"
    )
    assert (
        exported
        == credited
        == {
            "2026-07": D("1.200"),
            "2026-10": D("1.240"),
            "2026-11": D("1.200"),
            "2026-12": D("1.240"),
        }
    )
    assert carried == [(1, "2026Q4")]
    assert q1_draft == ""


def test_staff_may_credit_a_month_closed_before_the_terms_at_its_metered_energy(
    fresh_db: str,
) -> None:
    """July and August closed (1.240 MWh metered each) before S accepted the REC terms, so
    nothing credited them. After acceptance staff confirm August at its metered energy
    unchanged (an amendment stating the same 1,240,000 Wh, with reason and evidence): the
    ledger books 1.240 and the quarter's export carries it once, beside September (closed
    after acceptance, credited at close); July, not confirmed, stays out. A month already
    credited (September) cannot be 'confirmed' again: nothing_to_amend, as before."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic", terms=False)), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 10, 2), 40_000))
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        amend(
            conn,
            ADMIN,
            "S",
            "2026-08",
            1_240_000,
            "REC terms accepted: certify August as metered",
            "terms.pdf",
            utc("2026-09-07T12:00"),
        )
        close_month(conn, "2026-09", ADMIN, utc("2026-10-06T12:00"))
        with pytest.raises(Refused) as again:
            amend(
                conn,
                ADMIN,
                "S",
                "2026-09",
                1_200_000,
                "confirm September",
                "terms.pdf",
                utc("2026-10-06T13:00"),
            )
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        credited = _ledger_by_month(conn)
    assert again.value.code == "nothing_to_amend"
    assert credited == {"2026-08": D("1.240"), "2026-09": D("1.200")}
    assert q3 == "NON-S,08/2026,1.240\nNON-S,09/2026,1.200\n"
