"""Issue 10 item 0, from the stream to the certificate: a SunSpec register (acc32, TotWh_SF =
1: 10 Wh a count, wraps at 42,949,672,960 Wh) wraps on October 10 at 12:00:40 and 40 s
later a restart restores a value from before the wrap (2,170 Wh back). The stream counts
the step 0, month close holds October (backwards_register), nothing is minted or exported;
releasing it (accept as reported, or an amendment) mints the right amount, and the month
enters the next NEPOOL GIS export.

The meter makes 2.5 Wh a second from 09:00 to 16:00 local (9 kW on a 10 kW system): 63,000
Wh a day, 1,953,000 Wh in October. The 40 s of the backwards step (100 Wh) are counted 0:
October as reported is 1,952,900 Wh (1.953 MWh).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from certification.errors import Refused
from certification.roles import Account, Role
from certification.workflows.accept_month import accept_month
from certification.workflows.amend_month import amend
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import draft_export, export_quarter
from certification.workflows.load_registry import load_registry
from certification.workflows.trace_certificates import certification_report
from schemas import Reading, Source
from storage import certification_store
from storage.energy_store import monthly_totals
from stream.inprocess import InProcessEngine
from tests.support import batch_bytes

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")
ADMIN = Account("staff-1", Role.ADMIN)
OWNER = Account("owner-G", Role.OWNER)
SF1 = 2**32 * 10
GLITCH = datetime(2026, 10, 10, 12, 1, 20, tzinfo=NY)  # the restart restores an older value
BACK_WH = 2_170  # how far the restored value is behind the register it replaced
REGISTRY: dict[str, Any] = {
    "providers": [{"provider_id": "das-a", "name": "DAS A", "approved": True}],
    "accounts": [
        {"account_id": "staff-1", "role": "admin"},
        {"account_id": "owner-G", "role": "system_owner"},
    ],
    "approved_meters": [{"model": "SUNSPEC-203", "accuracy_class": "1.0"}],
    "systems": [
        {
            "system_id": "G",
            "owner_id": "owner-G",
            "capacity_kw_dc": "10",
            "gis_unit_id": "NONG",
            "rec_terms_accepted": True,
            "reporting_method": "automatic",
            "das_provider_id": "das-a",
        }
    ],
    "meters": [
        {
            "meter_id": "M-G",
            "system_id": "G",
            "serial": "SN-G",
            "model": "SUNSPEC-203",
            "accuracy_class": "1.0",
            "installed_on": "2024-01-01",
            "register_modulus_wh": SF1,
        }
    ],
}


def produced(at: datetime) -> int:
    """Wh produced from October 1 00:00 local to `at`: 2.5 Wh/s from 09:00 to 16:00."""
    local = at.astimezone(NY)
    days = (local.date() - date(2026, 10, 1)).days
    if days < 0:
        return 0
    if days >= 31:
        return 31 * 63_000
    seconds = (local - local.replace(hour=9, minute=0, second=0)).total_seconds()
    return days * 63_000 + int(min(max(seconds, 0), 7 * 3600) * 5) // 2


START_WH = SF1 - 30 - produced(datetime(2026, 10, 10, 12, tzinfo=NY))  # M − 30 at 12:00:00


def register(at: datetime) -> int:
    behind = BACK_WH if at >= GLITCH else 0
    return (START_WH + produced(at) - behind) % SF1


def readings() -> list[Reading]:
    stamps = [datetime(2026, 9, 30, 23, tzinfo=NY) + timedelta(hours=h) for h in range(24 * 31 + 3)]
    stamps += [datetime(2026, 10, 10, 12, 0, 40, tzinfo=NY), GLITCH]
    return [
        Reading(
            meter_id="M-G",
            ts=ts,
            energy_wh=register(ts),
            source=Source.DAS,
            source_id="das-a",
            seq=n,
            received_at=ts,
            register_modulus_wh=SF1,
            scale_factor=1,
        )
        for n, ts in enumerate(sorted(stamps))
    ]


async def streamed(url: str) -> psycopg.Connection[Any]:
    """The registry loaded and October's readings through the in-process stream engine."""
    conn = psycopg.connect(url)
    load_registry(conn, REGISTRY, Decimal(10))
    conn.commit()
    every = readings()
    async with await InProcessEngine.connect(
        url, clock=lambda: datetime(2026, 11, 2, tzinfo=UTC)
    ) as engine:
        for day in range(0, len(every), 24):
            await engine.submit(batch_bytes(every[day : day + 24]))
    return conn


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def test_the_readings_wrap_then_step_back() -> None:
    """The fixture is what the test says: at the top of the register, wrapped, then back."""
    got = {r.ts: r.energy_wh for r in readings()}
    wrap = datetime(2026, 10, 10, 12, tzinfo=NY).astimezone(UTC)
    assert got[wrap] == SF1 - 30
    assert got[wrap + timedelta(seconds=40)] == 70
    assert got[GLITCH.astimezone(UTC)] == SF1 - 2_000
    assert got[wrap + timedelta(hours=1)] == 6_800
    assert produced(datetime(2026, 11, 1, tzinfo=NY)) == 1_953_000


async def test_a_step_back_after_a_wrap_holds_the_month_until_accepted(fresh_db: str) -> None:
    """Stream total 1,952,900 Wh (not 42.9 GWh); October held, nothing minted or exported;
    accepted as reported with a reason it mints 1 certificate and goes out in 2027Q1."""
    with await streamed(fresh_db) as conn:
        assert monthly_totals(conn)[("M-G", "2026-10")] == 1_952_900
        october = close_month(conn, "2026-10", ADMIN, at("2026-11-06")).systems[0]
        assert (october.energy_wh, october.held_by, october.minted) == (
            1_952_900,
            ("backwards_register",),
            0,
        )
        assert [f for f in october.findings if f[0] == "backwards_register"] == [
            (
                "backwards_register",
                "M-G: the register went backwards (70 Wh → 42949670960 Wh at "
                "2026-10-10T16:01:20+00:00); each step counted 0",
            )
        ]
        assert certification_store.ledger(conn) == []
        assert draft_export(conn, "2026Q4", ADMIN) == ""
        assert certification_report(conn, "G") == (
            "system G (unit NONG)\n"
            "  2026-10: HELD by backwards_register: 1952900 Wh as reported, no certificate until "
            "amended or accepted as reported\n"
        )
        close_month(conn, "2026-11", ADMIN, at("2026-12-06"))
        close_month(conn, "2026-12", ADMIN, at("2027-01-06"))
        assert export_quarter(conn, "2026Q4", ADMIN, at("2027-01-07"), "UTC") == (
            "NONG,11/2026,0.000\n"  # November: the last readings of Nov 1 (night); held October
        )
        with pytest.raises(Refused) as no_reason:
            accept_month(conn, ADMIN, "G", "2026-10", "  ", at("2027-01-08"))
        with pytest.raises(Refused) as not_admin:
            accept_month(conn, OWNER, "G", "2026-10", "checked", at("2027-01-08"))
        with pytest.raises(Refused) as not_held:
            accept_month(conn, ADMIN, "G", "2026-11", "checked", at("2027-01-08"))
        release = accept_month(
            conn,
            ADMIN,
            "G",
            "2026-10",
            "restart after firmware update; log checked",
            at("2027-01-08"),
        )
        with pytest.raises(Refused) as twice:
            accept_month(conn, ADMIN, "G", "2026-10", "again", at("2027-01-09"))
        ledger = certification_store.ledger(conn)
        stored = certification_store.release_of(conn, "G", "2026-10")
        report = certification_report(conn, "G").splitlines()
        for month in ("2027-01", "2027-02", "2027-03"):
            close_month(conn, month, ADMIN, at(f"{month}-28") + timedelta(days=40))
        q1 = export_quarter(conn, "2027Q1", ADMIN, at("2027-04-07"), "UTC")
    assert (no_reason.value.code, not_admin.value.code) == ("reason_required", "admin_only")
    assert (not_held.value.code, twice.value.code) == ("month_not_held", "month_released")
    assert (release.energy_wh, release.released_by) == (1_952_900, "staff-1")
    assert stored is not None
    assert (stored.kind, stored.reason, stored.released_at) == (
        "accepted_as_reported",
        "restart after firmware update; log checked",
        at("2027-01-08"),
    )
    assert [(r.month, r.entry, r.mwh, r.minted, r.carry_out) for r in ledger] == [
        ("2026-11", "close", Decimal("0.000"), 0, Decimal(0)),
        ("2026-10", "accepted", Decimal("1.953"), 1, Decimal("0.953")),
    ]
    assert q1 == "NONG,10/2026,1.953\n"
    assert report[3:6] == [
        "  2026-10 accepted: 1.953 MWh × 1 + carry 0 → 1 minted, carry 0.953; "
        "certificates NONG-000001..NONG-000001",
        "    released: accepted as reported by staff-1 at 2027-01-08T07:00:00-05:00 (held by "
        "backwards_register); why: restart after firmware update; log checked",
        "    meter M-G: 1952900 Wh (746 readings) from 42949078930 Wh @ "
        "2026-10-01T00:00:00-04:00 to 1356800 Wh @ 2026-11-01T00:00:00-04:00",
    ]


async def test_an_amendment_releases_a_held_month_and_books_all_of_it(fresh_db: str) -> None:
    """Amended to the meter's true 1,953,000 Wh, the held month books the whole 1.953 MWh
    (it had minted nothing, so not a difference) and is recorded as released by it."""
    with await streamed(fresh_db) as conn:
        close_month(conn, "2026-10", ADMIN, at("2026-11-06"))
        amendment_id = amend(
            conn, ADMIN, "G", "2026-10", 1_953_000, "restored register", "log.txt", at("2026-11-09")
        )
        ledger = certification_store.ledger(conn)
        release = certification_store.release_of(conn, "G", "2026-10")
        draft = draft_export(conn, "2026Q4", ADMIN)
    assert [(r.month, r.entry, r.mwh, r.minted) for r in ledger] == [
        ("2026-10", f"amendment:{amendment_id}", Decimal("1.953"), 1)
    ]
    assert release is not None
    assert (release.kind, release.amendment_id, release.energy_wh) == (
        "amended",
        amendment_id,
        1_953_000,
    )
    assert draft == "NONG,10/2026,1.953\n"
