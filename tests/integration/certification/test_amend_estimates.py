"""Issue 10 items 1 and 2: amending an estimated month books the amended energy (an estimate
minted nothing), goes out as the month's own line the first time that month is exported,
and is not counted again by the next actual month; a system whose REC terms are not
accepted gets no ledger credit from an amendment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from certification.errors import Refused
from certification.roles import Account, Role
from certification.workflows.amend_month import amend
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import export_quarter
from certification.workflows.load_registry import load_registry
from schemas import Reading, Source
from storage import certification_store
from storage.writer import write_readings

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")
ADMIN = Account("staff-1", Role.ADMIN)


def system(system_id: str, kw: str, method: str, terms: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "system_id": system_id,
        "owner_id": "owner-1",
        "capacity_kw_dc": kw,
        "gis_unit_id": f"NON-{system_id}",
        "rec_terms_accepted": terms,
        "reporting_method": method,
    }
    if method == "automatic":
        out["das_provider_id"] = "das-a"
    return out


def meter(system_id: str) -> dict[str, Any]:
    return {
        "meter_id": f"M-{system_id}",
        "system_id": system_id,
        "serial": f"SN-{system_id}",
        "model": "ACME-1",
        "accuracy_class": "1.0",
        "installed_on": "2024-01-01",
    }


def registry(*systems: dict[str, Any]) -> dict[str, Any]:
    return {
        "providers": [{"provider_id": "das-a", "name": "DAS A", "approved": True}],
        "accounts": [
            {"account_id": "staff-1", "role": "admin"},
            {"account_id": "owner-1", "role": "system_owner"},
        ],
        "approved_meters": [{"model": "ACME-1", "accuracy_class": "1.0"}],
        "systems": list(systems),
        "meters": [meter(s["system_id"]) for s in systems],
    }


def reading(system_id: str, ts: datetime, wh: int) -> Reading:
    return Reading(
        meter_id=f"M-{system_id}",
        ts=ts,
        energy_wh=wh,
        source=Source.MANUAL,
        source_id="rep-1",
        seq=int(ts.timestamp()),
        received_at=ts,
    )


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=NY)


def daily(system_id: str, first: date, last: date, per_day: int) -> list[Reading]:
    days = (last - first).days
    return [
        reading(system_id, midnight(first + timedelta(days=n)), 1_000_000 + n * per_day)
        for n in range(days + 1)
    ]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_an_estimated_july_amended_after_its_export_books_and_exports_all_of_it(
    fresh_db: str,
) -> None:
    """July estimated at 10 kW × 150 kWh = 1.500 MWh minted nothing and was not in 2026Q3;
    amended to 1.240 the ledger books +1.240 (not −0.260), and 2026Q4 carries July's own
    line 1.240 (not an adjustment of −0.260); the amendment is marked exported in 2026Q4."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), Decimal(10))
        write_readings(conn, daily("S", date(2026, 8, 1), date(2027, 1, 1), 40_000))
        july = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        close_month(conn, "2026-09", ADMIN, utc("2026-10-06T12:00"))
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        amendment_id = amend(
            conn, ADMIN, "S", "2026-07", 1_240_000, "meter read on site", "photo.jpg",
            utc("2026-10-09T12:00"),
        )  # fmt: skip
        after_amend = certification_store.amendments(conn, "S")[0].exported_in
        for month, closes in (("2026-10", "11"), ("2026-11", "12"), ("2026-12", "2027-01")):
            at = f"2026-{closes}-06T12:00" if len(closes) == 2 else f"{closes}-06T12:00"
            close_month(conn, month, ADMIN, utc(at))
        q4 = export_quarter(conn, "2026Q4", ADMIN, utc("2027-01-07T12:00"), "UTC")
        ledger = [(r.month, r.entry, r.mwh) for r in certification_store.ledger(conn)]
        exported_in = certification_store.amendments(conn, "S")[0].exported_in
    assert (july.systems[0].energy_wh, july.systems[0].estimated) == (1_500_000, True)
    assert q3 == "NON-S,08/2026,1.240\nNON-S,09/2026,1.200\n"
    assert after_amend is None
    assert ledger == [
        ("2026-08", "close", Decimal("1.240")),
        ("2026-09", "close", Decimal("1.200")),
        ("2026-07", f"amendment:{amendment_id}", Decimal("1.240")),
        ("2026-10", "close", Decimal("1.240")),
        ("2026-11", "close", Decimal("1.200")),
        ("2026-12", "close", Decimal("1.240")),
    ]
    assert q4 == (
        "NON-S,07/2026,1.240\nNON-S,10/2026,1.240\nNON-S,11/2026,1.200\nNON-S,12/2026,1.240\n"
    )
    assert exported_in == "2026Q4"


def test_the_month_after_an_amended_estimate_does_not_count_it_again(fresh_db: str) -> None:
    """A 40 kW manual system misses December's report (estimated); December is amended to
    4.322 MWh; January's report covers Nov 30 → Jan 31, 10.422 MWh: January closes at 6.100."""
    readings = [
        reading("D", datetime(2026, 10, 31, 12, tzinfo=NY), 1_000_000),
        reading("D", datetime(2026, 11, 30, 12, tzinfo=NY), 5_000_000),
        reading("D", datetime(2027, 1, 31, 12, tzinfo=NY), 15_422_000),
    ]
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("D", "40", "manual")), Decimal(50))
        write_readings(conn, readings[:2])
        close_month(conn, "2026-11", ADMIN, utc("2026-12-06T12:00"))
        december = close_month(conn, "2026-12", ADMIN, utc("2027-01-06T12:00")).systems[0]
        amend(conn, ADMIN, "D", "2026-12", 4_322_000, "owner's photo", "photo.jpg",
              utc("2027-01-10T12:00"))  # fmt: skip
        write_readings(conn, readings[2:])
        january = close_month(conn, "2027-01", ADMIN, utc("2027-02-06T12:00")).systems[0]
        with pytest.raises(Refused) as again:  # January already counted the rest of December
            amend(conn, ADMIN, "D", "2026-12", 4_000_000, "again", "x", utc("2027-02-07T12:00"))
        ledger = [(r.month, r.entry, r.mwh) for r in certification_store.ledger(conn)]
    assert (december.energy_wh, december.estimated, december.minted) == (2_000_000, True, 0)
    assert (january.energy_wh, january.certified_wh, january.estimated) == (
        6_100_000,
        6_100_000,
        False,
    )
    assert [code for code, _ in january.findings] == ["gap", "true_up_amended"]
    assert again.value.code == "trued_up_later"
    assert ledger[1:] == [
        ("2026-12", "amendment:1", Decimal("4.322")),
        ("2027-01", "close", Decimal("6.100")),
    ]


def test_an_amendment_without_rec_terms_gets_no_credit(fresh_db: str) -> None:
    """REC terms not accepted: the close mints nothing and neither does its amendment."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("NT", "10", "automatic", terms=False)), Decimal(10))
        write_readings(conn, daily("NT", date(2026, 6, 30), date(2026, 8, 2), 40_000))
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        amend(conn, ADMIN, "NT", "2026-07", 1_300_000, "audit", "a.pdf", utc("2026-08-09T12:00"))
        ledger = certification_store.ledger(conn)
    assert ledger == []
