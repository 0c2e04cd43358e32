"""A fleet with known faults runs through month close, SREC minting, export and an amendment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from certification.errors import MonthLockedError
from certification.roles import Account, Role
from certification.service import amend, close_month, export_quarter
from schemas import AccuracyClass, Meter, Reading, ReportingMethod, Source, System
from storage import certification_store, registry_store
from storage.writer import write_readings

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")
ADMIN = Account("staff-1", Role.ADMIN)
NOW = datetime(2026, 8, 3, 15, tzinfo=UTC)


def system(sid: str, kw: str, unit: str | None, factor: str = "1.0", terms: bool = True) -> System:
    return System(system_id=sid, owner_id=f"owner-{sid}", capacity_kw_dc=Decimal(kw),
                  reporting_method=ReportingMethod.MANUAL, srec_factor=Decimal(factor),
                  gis_unit_id=unit, rec_terms_accepted=terms)  # fmt: skip


def meter(sid: str) -> Meter:
    return Meter(meter_id=f"M-{sid}", system_id=sid, serial=sid, model="ACME-1",
                 accuracy_class=AccuracyClass.PCT_1, installed_on=date(2024, 1, 1))  # fmt: skip


def daily(sid: str, increments: list[int], start: int = 1_000_000) -> list[Reading]:
    """One reading at each local midnight from June 30 to August 1 (33 readings)."""
    out, value = [], start
    for day in range(33):
        ts = datetime(2026, 6, 30, tzinfo=NY) + timedelta(days=day)
        if day:
            value += increments[day - 1]
        out.append(Reading(meter_id=f"M-{sid}", ts=ts, energy_wh=value, source=Source.MANUAL,
                           source_id="rep", seq=day, received_at=ts))  # fmt: skip
    return out


def fleet(conn: psycopg.Connection[Any]) -> None:
    systems = [
        system("OK", "10", "NON1"),
        system("F08", "20", "NON2", factor="0.8"),
        system("ZERO", "10", "NON3"),
        system("BACK", "10", "NON4"),
        system("OVER", "1", "NON5"),
        system("MISS", "5", "NON6"),
        system("NOTERMS", "10", "NON7", terms=False),
        system("NIGHT", "10", "NON8"),
    ]
    registry_store.upsert(conn, [*systems, *(meter(s.system_id) for s in systems)])
    readings = (
        daily("OK", [40_000] * 32)
        + daily("F08", [62_500] * 32)
        + daily("ZERO", [0] * 32)
        + daily("OVER", [10_000] * 32)
        + daily("NOTERMS", [40_000] * 32)
        + daily("NIGHT", [40_000] * 32)
    )
    back = daily("BACK", [40_000] * 32)
    # a reset on the night of July 15: the register starts again from 0 and counts 40 kWh
    # that day; the PTS counts what the meter registered after the reset
    reset_at = 16
    back = back[:reset_at] + [
        r.model_copy(update={"energy_wh": 40_000 * (i + 1), "content_hash": ""})
        for i, r in enumerate(back[reset_at:])
    ]
    back = [Reading.model_validate(r.model_dump()) for r in back]
    # night-time production: 2 kWh registered between 23:30 and 01:30 on July 20
    night_base = datetime(2026, 7, 20, tzinfo=NY)
    night = [
        Reading(meter_id="M-NIGHT", ts=night_base - timedelta(minutes=30), source=Source.MANUAL,
                energy_wh=1_000_000 + 19 * 40_000 + 39_000, source_id="rep", seq=100,
                received_at=night_base),
        Reading(meter_id="M-NIGHT", ts=night_base + timedelta(minutes=90), source=Source.MANUAL,
                energy_wh=1_000_000 + 19 * 40_000 + 41_000, source_id="rep", seq=101,
                received_at=night_base),
    ]  # fmt: skip
    write_readings(conn, readings + back + night)
    conn.commit()


def test_fleet_month_close_export_and_amendment(fresh_db: str) -> None:
    """Flags, estimates, certificates and every exported MWh equal the hand-computed values."""
    with psycopg.connect(fresh_db) as conn:
        fleet(conn)
        report = close_month(conn, "2026-07", ADMIN, NOW)
        energy = {s.system.system_id: (s.energy_wh, s.estimated) for s in report.systems}
        minted = {s.system.system_id: (s.minted, s.carry_out) for s in report.systems}
        contacts = {sid: reasons for sid, _, reasons in report.contact_list()}
        export = export_quarter(conn, "2026Q3", ADMIN, NOW)
        with pytest.raises(MonthLockedError):
            close_month(conn, "2026-07", ADMIN, NOW)
        amend(conn, ADMIN, "OK", "2026-07", 1_300_000, "site audit: CT ratio misapplied",
              "audit-2026-08-10.pdf", NOW + timedelta(days=10))  # fmt: skip
        next_export = export_quarter(conn, "2026Q4", ADMIN, NOW + timedelta(days=80))
        ledger = certification_store.ledger(conn)

    assert energy == {
        "OK": (1_240_000, False),
        "F08": (1_937_500, False),
        "ZERO": (0, False),
        "BACK": (15 * 40_000 + 16 * 40_000, False),
        "OVER": (310_000, False),
        "MISS": (750_000, True),  # 5 kW × 150 kWh/kW typical July: an estimate
        "NOTERMS": (1_240_000, False),
        "NIGHT": (1_240_000, False),
    }
    assert contacts == {
        "ZERO": ["zero_month"],
        "BACK": ["backwards_register", "register_mismatch"],
        "OVER": ["over_capacity"],
        "MISS": ["missing_month"],
        "NIGHT": ["night_production"],
    }
    assert minted["OK"] == (1, Decimal("0.240"))
    assert minted["F08"] == (1, Decimal("0.5504"))  # 1.938 MWh × 0.8 = 1.5504
    assert minted["MISS"] == (0, Decimal(0))  # estimates mint nothing
    assert export == (
        "NON1,07/2026,1.240\n"
        "NON2,07/2026,1.938\n"
        "NON3,07/2026,0.000\n"
        "NON4,07/2026,1.240\n"
        "NON5,07/2026,0.310\n"
        "NON8,07/2026,1.240\n"
    )
    assert next_export == "NON1,07/2026,0.060\n"
    ok = [row for row in ledger if row[0] == "OK"]
    assert [(r[2], r[3], r[6], r[7]) for r in ok] == [
        ("close", Decimal("1.240"), 1, Decimal("0.240000")),
        ("amendment:1", Decimal("0.060"), 0, Decimal("0.300000")),
    ]
