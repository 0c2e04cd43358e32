"""Certification workflows against the real PostgreSQL: manual reports, REC Owner changes,
audits, and an amendment after close that changes the next export."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from structlog.testing import capture_logs

from certification import change_requests as cr
from certification.audits import Verdict
from certification.errors import Refused
from certification.manual_reports import ManualReport
from certification.roles import Account, Role
from certification.workflows.amend_month import amend
from certification.workflows.change_requests import decide_change_request, request_rec_owner_change
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import export_quarter
from certification.workflows.load_registry import load_registry
from certification.workflows.record_audit import record_audit
from certification.workflows.submit_report import submit_manual_report
from certification.workflows.trace_certificates import certification_report
from schemas import Reading, Source
from storage import certification_store, registry_store
from storage.writer import write_readings
from tests.integration.certification.registry_docs import manual_registry

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")
ADMIN = Account("staff-1", Role.ADMIN)
TEN = Decimal(10)
REGISTRY = manual_registry(accounts=[{"account_id": "buyer-9", "role": "rec_owner"}])


def loaded(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url)
    load_registry(conn, REGISTRY, TEN)
    conn.commit()
    return conn


def daily(first: date, days: int, per_day: int = 40_000) -> list[Reading]:
    out = []
    for index in range(days + 1):
        day = first + timedelta(days=index)
        ts = datetime(day.year, day.month, day.day, tzinfo=NY)
        out.append(
            Reading(
                meter_id="M1",
                ts=ts,
                energy_wh=1_000_000 + index * per_day,
                source=Source.MANUAL,
                source_id="rep-1",
                seq=index,
                received_at=ts,
            )
        )
    return out


def test_registry_load_refuses_the_whole_document(fresh_db: str) -> None:
    """A ±2% meter on an 11 kW manual system is refused twice over; nothing is stored."""
    bad = {**REGISTRY, "systems": [{**REGISTRY["systems"][0], "capacity_kw_dc": "11"}]}
    with psycopg.connect(fresh_db) as conn:
        with pytest.raises(Refused) as caught:
            load_registry(conn, bad, TEN)
        assert caught.value.code == "registry_refused"
        assert "must_report_automatically" in caught.value.message
        assert "meter_accuracy_too_low" in caught.value.message
        assert registry_store.list_systems(conn) == []
        load_registry(conn, REGISTRY, TEN)
        twin = {"systems": [{**REGISTRY["systems"][0], "system_id": "S9"}]}
        with pytest.raises(Refused) as duplicate:
            load_registry(conn, twin, TEN)
        assert duplicate.value.message == "system S9: NEPOOL GIS unit NON1 is already S1's"


def test_manual_report_is_stored_as_a_manual_reading(fresh_db: str) -> None:
    """Accepted in the window it lands in `readings` with its photo; a lower one is refused."""
    now = datetime(2026, 10, 30, 16, tzinfo=UTC)
    with loaded(fresh_db) as conn:
        first = ManualReport("M1", 5_000_000, now - timedelta(hours=1), "photo-17.jpg")
        with capture_logs() as logs:
            reading = submit_manual_report(conn, "rep-1", first, now, TEN).reading
        lower = ManualReport("M1", 4_999_000, now, None)
        with pytest.raises(Refused) as caught:
            submit_manual_report(conn, "rep-1", lower, now + timedelta(hours=1), TEN)
        with pytest.raises(Refused) as owner:
            submit_manual_report(conn, "owner-1", ManualReport("M1", 5_100_000, now), now, TEN)
        rows = conn.execute("SELECT energy_wh, source, source_id FROM readings").fetchall()
        photo = conn.execute("SELECT month, photo_ref, submitted_by FROM manual_reports").fetchall()
    assert reading.energy_wh == 5_000_000
    assert logs == [
        {
            "event": "manual_report_accepted",
            "log_level": "info",
            "meter_id": "M1",
            "energy_wh": 5_000_000,
        }
    ]
    assert (caught.value.code, owner.value.code) == (
        "register_went_backwards",
        "not_the_representative",
    )
    assert rows == [(5_000_000, "manual", "rep-1")]
    assert photo == [("2026-10", "photo-17.jpg", "rep-1")]


def test_rec_owner_change_through_the_registry(fresh_db: str) -> None:
    """Owner asks with the contract, a second request is refused, an admin approves: the REC
    Owner of S1 becomes buyer-9 in the registry."""
    now = datetime(2026, 10, 1, tzinfo=UTC)
    with loaded(fresh_db) as conn:
        request_rec_owner_change(conn, "owner-1", "S1", "r1", "buyer-9", "doc://t-17.pdf", now)
        with pytest.raises(Refused) as twice:
            request_rec_owner_change(conn, "owner-1", "S1", "r2", "buyer-8", "doc://x", now)
        with pytest.raises(Refused) as by_owner:
            decide_change_request(conn, "owner-1", "S1", "r1", cr.Status.APPROVED, now)
        decide_change_request(conn, "staff-1", "S1", "r1", cr.Status.APPROVED, now)
        system = registry_store.get_system(conn, "S1")
        requests = certification_store.change_requests(conn, "S1")
    assert (twice.value.code, by_owner.value.code) == ("request_already_open", "admin_only")
    assert system is not None
    assert system.effective_rec_owner_id == "buyer-9"
    assert [(r.request_id, r.status, r.decided_by) for r in requests] == [
        ("r1", "approved", "staff-1")
    ]


def test_audit_reading_is_compared_and_kept(fresh_db: str) -> None:
    """July, 40 kWh a day: on July 16 12:00 EDT the reports say 1,620,000 Wh; the audit reads
    1,600,000, 3.23% of the 620,000 Wh reported so far, above ±2%: a mismatch."""
    with loaded(fresh_db) as conn:
        write_readings(conn, daily(date(2026, 7, 1), 31))
        audited_at = datetime(2026, 7, 16, 12, tzinfo=NY)
        now = datetime(2026, 8, 10, tzinfo=UTC)
        result = record_audit(conn, ADMIN, "M1", audited_at, 1_600_000, "photo-a.jpg", now)
        rows = certification_store.audits(conn, "M1")
        closed = close_month(conn, "2026-07", ADMIN, now)
    assert (result.reported_wh, result.produced_wh, result.deviation_pct) == (
        1_620_000,
        620_000,
        Decimal("3.23"),
    )
    assert result.verdict is Verdict.MISMATCH
    assert [(r[2], r[3], r[4], r[6]) for r in rows] == [(1_600_000, 1_620_000, -20_000, "mismatch")]
    # July's close lists the mismatch among S1's findings, so its owner is contacted
    (july,) = closed.systems
    assert july.findings == [
        (
            "audit_mismatch",
            "M1: site audit at 2026-07-16T16:00:00+00:00 read 1600000 Wh against 1620000 Wh "
            "reported (3.23% of the production, beyond the meter's accuracy class); amend the "
            "affected months",
        )
    ]
    assert closed.contact_list() == [("S1", "owner-1", ["audit_mismatch"])]


def test_amendment_after_close_changes_the_next_export(fresh_db: str) -> None:
    """July is closed and exported in 2026Q3 at 1.240 MWh; amended to 1,300,000 Wh it appears
    in 2026Q4's export as a +0.060 adjustment for 07/2026 beside Q4's own months. August,
    amended before the Q3 export, goes out restated once and never again."""
    with loaded(fresh_db) as conn:
        write_readings(conn, daily(date(2026, 7, 1), 184))  # July 1 … January 1
        conn.commit()
        closes = {
            "2026-07": datetime(2026, 8, 6, 4, tzinfo=UTC),
            "2026-08": datetime(2026, 9, 6, 4, tzinfo=UTC),
            "2026-09": datetime(2026, 10, 6, 4, tzinfo=UTC),
            "2026-10": datetime(2026, 11, 6, 5, tzinfo=UTC),
            "2026-11": datetime(2026, 12, 6, 5, tzinfo=UTC),
            "2026-12": datetime(2027, 1, 6, 5, tzinfo=UTC),
        }
        for month, now in list(closes.items())[:3]:
            close_month(conn, month, ADMIN, now)
        with pytest.raises(Refused) as skipped:
            close_month(conn, "2026-11", ADMIN, closes["2026-11"])
        amend(
            conn,
            ADMIN,
            "S1",
            "2026-08",
            1_250_000,
            "meter clock",
            "log.csv",
            datetime(2026, 10, 6, 12, tzinfo=UTC),
        )
        q3 = export_quarter(conn, "2026Q3", ADMIN, datetime(2026, 10, 7, tzinfo=UTC), "UTC")
        with pytest.raises(Refused) as again:
            export_quarter(conn, "2026Q3", ADMIN, datetime(2026, 10, 8, tzinfo=UTC), "UTC")
        amend(
            conn,
            ADMIN,
            "S1",
            "2026-07",
            1_300_000,
            "CT ratio misapplied",
            "audit-1.pdf",
            datetime(2026, 10, 9, tzinfo=UTC),
        )
        conn.commit()
        # append-only: the rules ignore these
        conn.execute("DELETE FROM amendments")
        conn.execute("UPDATE amendments SET after_wh = 0, reason = 'x'")
        conn.execute("UPDATE month_closes SET energy_wh = 0")
        conn.execute("DELETE FROM srec_ledger")
        for month, now in list(closes.items())[3:]:
            close_month(conn, month, ADMIN, now)
        q4 = export_quarter(conn, "2026Q4", ADMIN, datetime(2027, 1, 7, tzinfo=UTC), "UTC")
        kept = conn.execute("SELECT amendment_id, exported_in FROM amendments").fetchall()
        july = conn.execute("SELECT energy_wh FROM month_closes WHERE month = '2026-07'").fetchone()
        entries = conn.execute("SELECT count(*) FROM srec_ledger").fetchone()
    assert q3 == "NON1,07/2026,1.240\nNON1,08/2026,1.250\nNON1,09/2026,1.200\n"
    assert (again.value.code, skipped.value.code) == ("already_exported", "previous_month_open")
    assert q4 == (
        "NON1,07/2026,0.060\nNON1,10/2026,1.240\nNON1,11/2026,1.200\nNON1,12/2026,1.240\n"
    )
    assert sorted(kept) == [(1, "2026Q3"), (2, "2026Q4")]
    assert (july, entries) == ((1_240_000,), (8,))  # 6 closes + 2 amendments


def test_owner_reads_only_its_own_systems_in_the_report(fresh_db: str) -> None:
    """owner-1 sees S1 in the certification report; S2's owner's report is refused to it."""
    other = {
        "systems": [
            {
                **REGISTRY["systems"][0],
                "system_id": "S2",
                "owner_id": "owner-2",
                "gis_unit_id": "NON2",
            }
        ],
        "accounts": [{"account_id": "owner-2", "role": "system_owner"}],
    }
    with loaded(fresh_db) as conn:
        load_registry(conn, other, TEN)
        owner = Account("owner-1", Role.OWNER)
        mine = certification_report(conn, None, owner)
        with pytest.raises(Refused) as caught:
            certification_report(conn, "S2", owner)
        everything = certification_report(conn, None, ADMIN)
    assert mine == "system S1 (unit NON1)\n"
    assert caught.value.code == "not_your_system"
    assert everything == "system S1 (unit NON1)\nsystem S2 (unit NON2)\n"
