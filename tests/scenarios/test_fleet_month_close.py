"""A fleet of ten systems with known faults runs through three month closes, SREC minting and
the 2026Q3 NEPOOL GIS export; every flag and every MWh is the hand-computed value below.

Readings are one per local midnight (America/New_York) from June 30 to October 1, so a day's
energy is the difference of two successive readings. The faults, all in July:
ZERO produces nothing; BACK's register resets on July 16; OVER (1 kW) makes 10 kWh a day,
41.7% capacity factor; MISS has no reading before August 1 (July is estimated: 5 kW × 150 kWh
per kW = 750 kWh); NIGHT registers 2 kWh between 23:30 and 01:30; GAP has no readings on July
11–14 (one 5-day interval); FLAT registers nothing July 8–12; F08 is an SREC II system with
factor 0.8 (62.5 kWh a day); NOTERMS has not accepted the REC terms.
BACK, OVER and NIGHT have findings that question the energy itself: their months are held,
mint nothing and are not exported (certification.holds); gap, flat line, zero and missing
months are advisory.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from certification.errors import MonthLockedError, Refused
from certification.roles import Account, Role
from certification.workflows.amend_month import amend
from certification.workflows.close_month import CloseReport, close_month
from certification.workflows.export_quarter import draft_export, export_quarter
from certification.workflows.load_registry import load_registry
from certification.workflows.trace_certificates import certification_report
from schemas import Reading, Source
from storage import certification_store
from storage.writer import write_readings

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")
ADMIN = Account("staff-1", Role.ADMIN)
FIRST = date(2026, 6, 30)
DAYS = 93  # June 30 … October 1 (readings); 93 daily intervals

# system id → (kW DC, GIS unit, SREC factor, REC terms accepted)
FLEET: dict[str, tuple[str, str, str, bool]] = {
    "OK": ("10", "NON01", "1.0", True),
    "F08": ("20", "NON02", "0.8", True),
    "ZERO": ("10", "NON03", "1.0", True),
    "BACK": ("10", "NON04", "1.0", True),
    "OVER": ("1", "NON05", "1.0", True),
    "MISS": ("5", "NON06", "1.0", True),
    "NOTERMS": ("10", "NON07", "1.0", False),
    "NIGHT": ("10", "NON08", "1.0", True),
    "GAP": ("10", "NON09", "1.0", True),
    "FLAT": ("10", "NON10", "1.0", True),
}
DAILY: dict[str, Callable[[date], int]] = {
    "OK": lambda d: 40_000,
    "F08": lambda d: 62_500,
    "ZERO": lambda d: 0 if d.month == 7 else 40_000,
    "BACK": lambda d: 40_000,
    "OVER": lambda d: 10_000,
    "MISS": lambda d: 20_000,
    "NOTERMS": lambda d: 40_000,
    "NIGHT": lambda d: 40_000,
    "GAP": lambda d: 40_000,
    "FLAT": lambda d: 0 if date(2026, 7, 8) <= d <= date(2026, 7, 12) else 40_000,
}


def registry_document() -> dict[str, Any]:
    systems, meters, accounts = [], [], [{"account_id": "staff-1", "role": "admin"}]
    for sid, (kw, unit, factor, terms) in FLEET.items():
        systems.append(
            {
                "system_id": sid,
                "owner_id": f"owner-{sid}",
                "representative_id": f"rep-{sid}",
                "capacity_kw_dc": kw,
                "srec_factor": factor,
                "gis_unit_id": unit,
                "rec_terms_accepted": terms,
                "reporting_method": "automatic",  # daily readings through DAS A
                "das_provider_id": "das-a",
            }
        )
        meters.append(
            {
                "meter_id": f"M-{sid}",
                "system_id": sid,
                "serial": f"SN-{sid}",
                "model": "ACME-1",
                "accuracy_class": "1.0",
                "installed_on": "2024-01-01",
            }
        )
        accounts.append(
            {
                "account_id": f"owner-{sid}",
                "role": "system_owner",
                "email": f"{sid.lower()}@owners.example",
            }
        )
    return {
        "providers": [{"provider_id": "das-a", "name": "DAS A", "approved": True}],
        "accounts": accounts,
        "approved_meters": [{"model": "ACME-1", "accuracy_class": "1.0"}],
        "systems": systems,
        "meters": meters,
    }


def at_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=NY)


def reading(sid: str, ts: datetime, wh: int, seq: int) -> Reading:
    return Reading(
        meter_id=f"M-{sid}",
        ts=ts,
        energy_wh=wh,
        source=Source.MANUAL,
        source_id=f"rep-{sid}",
        seq=seq,
        received_at=ts,
    )


def fleet_readings() -> list[Reading]:
    out = []
    for sid, daily in DAILY.items():
        value = 1_000_000
        for index in range(DAYS + 1):
            day = FIRST + timedelta(days=index)
            if index:
                value += daily(day - timedelta(days=1))
            if sid == "MISS" and day < date(2026, 8, 1):
                continue
            if sid == "GAP" and date(2026, 7, 11) <= day <= date(2026, 7, 14):
                continue
            wh = value
            if sid == "BACK" and day >= date(2026, 7, 16):
                wh = value - 1_600_000  # reset to 0 on July 15: 40 kWh at July 16 00:00
            out.append(reading(sid, at_midnight(day), wh, index))
    base = 1_000_000 + 20 * 40_000  # NIGHT's register at July 20 00:00
    out.append(
        reading("NIGHT", at_midnight(date(2026, 7, 20)) - timedelta(minutes=30), base - 1_000, 1000)
    )
    out.append(
        reading("NIGHT", at_midnight(date(2026, 7, 20)) + timedelta(minutes=90), base + 1_000, 1001)
    )
    return out


def contacts(report: CloseReport) -> list[tuple[str, str, str, list[str]]]:
    return [(c.system_id, c.owner_id, c.owner_email, c.reasons) for c in report.contacts()]


def test_fleet_quarter_close_and_export(fresh_db: str) -> None:
    """Flags, estimates, certificates and every exported MWh equal the hand-computed values."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry_document(), Decimal(10))
        write_readings(conn, fleet_readings())
        conn.commit()
        with pytest.raises(Refused) as early:
            close_month(conn, "2026-07", ADMIN, datetime(2026, 8, 6, 3, 59, tzinfo=UTC))
        july = close_month(conn, "2026-07", ADMIN, datetime(2026, 8, 6, 4, 0, tzinfo=UTC))
        with pytest.raises(MonthLockedError):
            close_month(conn, "2026-07", ADMIN, datetime(2026, 8, 7, tzinfo=UTC))
        draft = draft_export(conn, "2026Q3", ADMIN)
        august = close_month(conn, "2026-08", ADMIN, datetime(2026, 9, 6, 4, tzinfo=UTC))
        with pytest.raises(Refused) as not_closed:
            export_quarter(conn, "2026Q3", ADMIN, datetime(2026, 10, 7, tzinfo=UTC), "UTC")
        september = close_month(conn, "2026-09", ADMIN, datetime(2026, 10, 6, 4, tzinfo=UTC))
        export = export_quarter(conn, "2026Q3", ADMIN, datetime(2026, 10, 7, tzinfo=UTC), "UTC")
        amend(
            conn,
            ADMIN,
            "FLAT",
            "2026-07",
            1_240_000,
            "site audit: the register was stuck",
            "audit-2026-10-09.pdf",
            datetime(2026, 10, 9, 15, tzinfo=UTC),
        )
        ledger = certification_store.ledger(conn)
        flat_report = certification_report(conn, "FLAT")

    assert early.value.code == "window_still_open"
    assert draft == (  # July only, for review; nothing recorded; BACK, OVER, NIGHT held
        "NON01,07/2026,1.240\nNON02,07/2026,1.938\nNON03,07/2026,0.000\n"
        "NON09,07/2026,1.240\nNON10,07/2026,1.040\n"
    )
    assert not_closed.value.code == "month_not_closed"
    assert {s.system.system_id: (s.energy_wh, s.estimated) for s in july.systems} == {
        "BACK": (1_200_000, False),  # 15 days, the unannounced reset day counted 0, 15 more
        "F08": (1_937_500, False),
        "FLAT": (1_040_000, False),
        "GAP": (1_240_000, False),
        "MISS": (750_000, True),
        "NIGHT": (1_240_000, False),
        "NOTERMS": (1_240_000, False),
        "OK": (1_240_000, False),
        "OVER": (310_000, False),
        "ZERO": (0, False),
    }
    assert contacts(july) == [
        ("BACK", "owner-BACK", "back@owners.example", ["backwards_register", "register_mismatch"]),
        ("FLAT", "owner-FLAT", "flat@owners.example", ["flat_line"]),
        ("GAP", "owner-GAP", "gap@owners.example", ["gap"]),
        ("MISS", "owner-MISS", "miss@owners.example", ["missing_month"]),
        ("NIGHT", "owner-NIGHT", "night@owners.example", ["night_production"]),
        ("OVER", "owner-OVER", "over@owners.example", ["over_capacity"]),
        ("ZERO", "owner-ZERO", "zero@owners.example", ["zero_month"]),
    ]
    assert contacts(august) == [  # MISS: July's estimate cannot be trued up
        ("MISS", "owner-MISS", "miss@owners.example", ["gap"]),
        ("OVER", "owner-OVER", "over@owners.example", ["over_capacity"]),
    ]
    assert august.systems[4].findings == [
        ("gap", "M-MISS: no reading from 2026-07-01T04:00:00+00:00 to 2026-08-01T04:00:00+00:00")
    ]
    assert [c.system_id for c in september.contacts()] == ["OVER"]
    assert {s.system.system_id: s.held_by for s in july.systems if s.held_by} == {
        "BACK": ("backwards_register", "register_mismatch"),
        "NIGHT": ("night_production",),
        "OVER": ("over_capacity",),
    }
    assert [s.system.system_id for s in september.systems if s.held_by] == ["OVER"]
    assert export == (
        "NON01,07/2026,1.240\nNON01,08/2026,1.240\nNON01,09/2026,1.200\n"
        "NON02,07/2026,1.938\nNON02,08/2026,1.938\nNON02,09/2026,1.875\n"
        "NON03,07/2026,0.000\nNON03,08/2026,1.240\nNON03,09/2026,1.200\n"
        "NON04,08/2026,1.240\nNON04,09/2026,1.200\n"
        "NON06,08/2026,0.620\nNON06,09/2026,0.600\n"
        "NON08,08/2026,1.240\nNON08,09/2026,1.200\n"
        "NON09,07/2026,1.240\nNON09,08/2026,1.240\nNON09,09/2026,1.200\n"
        "NON10,07/2026,1.040\nNON10,08/2026,1.240\nNON10,09/2026,1.200\n"
    )
    minted: dict[str, list[tuple[str, str, int, Decimal]]] = {}
    for system_id, month, entry, _mwh, _factor, _carry_in, count, carry_out, _owner in ledger:
        minted.setdefault(system_id, []).append((month, entry, count, carry_out))
    assert minted["F08"] == [  # 1.938 × 0.8 = 1.5504; + 1.5504 = 3.1008; 1.875 × 0.8 + 0.1008
        ("2026-07", "close", 1, Decimal("0.550400")),
        ("2026-08", "close", 2, Decimal("0.100800")),
        ("2026-09", "close", 1, Decimal("0.600800")),
    ]
    assert minted["MISS"] == [  # the estimated July mints nothing
        ("2026-08", "close", 0, Decimal("0.620000")),
        ("2026-09", "close", 1, Decimal("0.220000")),
    ]
    assert "NOTERMS" not in minted
    assert "OVER" not in minted  # held every month
    assert [(m, e) for m, e, _, _ in minted["BACK"]] == [("2026-08", "close"), ("2026-09", "close")]
    assert minted["FLAT"] == [  # 1.040; 1.240 + 0.040; 1.200 + 0.280; amendment +0.200
        ("2026-07", "close", 1, Decimal("0.040000")),
        ("2026-08", "close", 1, Decimal("0.280000")),
        ("2026-09", "close", 1, Decimal("0.480000")),
        ("2026-07", "amendment:1", 0, Decimal("0.680000")),
    ]
    assert flat_report == FLAT_REPORT


FLAT_REPORT = (  # times in the system's zone (EDT)
    "system FLAT (unit NON10)\n"
    "  2026-07 close: 1.040 MWh × 1 + carry 0 → 1 minted, carry 0.04; "
    "certificates NON10-000001..NON10-000001\n"
    "    meter M-FLAT: 1040000 Wh (31 readings) from 1040000 Wh @ 2026-07-01T00:00:00-04:00 "
    "to 2080000 Wh @ 2026-08-01T00:00:00-04:00; edited: amendment 1 states the month "
    "1240000 Wh\n"
    "  2026-08 close: 1.240 MWh × 1 + carry 0.04 → 1 minted, carry 0.28; "
    "certificates NON10-000002..NON10-000002\n"
    "    meter M-FLAT: 1240000 Wh (31 readings) from 2080000 Wh @ 2026-08-01T00:00:00-04:00 "
    "to 3320000 Wh @ 2026-09-01T00:00:00-04:00\n"
    "  2026-09 close: 1.200 MWh × 1 + carry 0.28 → 1 minted, carry 0.48; "
    "certificates NON10-000003..NON10-000003\n"
    "    meter M-FLAT: 1200000 Wh (30 readings) from 3320000 Wh @ 2026-09-01T00:00:00-04:00 "
    "to 4520000 Wh @ 2026-10-01T00:00:00-04:00\n"
    "  2026-07 amendment:1: 0.200 MWh × 1 + carry 0.48 → 0 minted, carry 0.68; no certificate\n"
    "    amendment 1 by staff-1 at 2026-10-09T11:00:00-04:00: 1040000 Wh → 1240000 Wh; "
    "why: site audit: the register was stuck; evidence: audit-2026-10-09.pdf\n"
)
