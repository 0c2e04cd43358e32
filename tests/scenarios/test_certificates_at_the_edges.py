"""Issue 10, "Must show": certificates at the edges through two quarters, every certificate and
every exported MWh hand-computed below.

Readings are one per local midnight (America/New_York), automatic systems reported by DAS A:
- MM (20 kW, SREC factor 0.8) has two meters: MM-A makes 40 kWh a day; MM-B 20 kWh a day but
  its data stops on Aug 1 and resumes, after August closed, from Sep 1. August states MM-A's
  1.240 MWh metered plus MM-B's estimate (its share: 20 kW / 2 meters × 135 kWh/kW = 1.350
  MWh, never certified); 1.240 is minted and exported. September counts MM-B from Aug 1 (the
  true-up): 1.200 + 0.620 + 0.600 = 2.420 MWh.
- EST (10 kW) has no reading before Aug 1: July is estimated (10 × 150 kWh = 1.500 MWh), mints
  nothing and is not in 2026Q3. Amended on Oct 9 to 1.240 MWh, the ledger books all 1.240 and
  2026Q4 carries July's own line.
- HELD (10 kW, 40 kWh a day) has a register glitch on Sep 15 at noon (50 kWh back, counted 0;
  the rebound counts 90 kWh): September (1.250 MWh as counted) is held by backwards_register
  and register_mismatch; amended on Oct 10 to the true 1.200 MWh, it is released, booked in
  full and exported in 2026Q4.
- LATE (10 kW, 30 kWh a day since June 30) is registered on Oct 8, after 2026Q3 went out; it
  closes July–September then, and those months go out in 2026Q4 with its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from certification.roles import Account, Role
from certification.workflows.amend_month import amend
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import export_quarter
from certification.workflows.load_registry import load_registry
from schemas import Reading
from storage import certification_store
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import (
    NY,
    daily,
    meter,
    registry,
    system,
    utc,
)

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)
JUN30, AUG1, SEP1, JAN2 = date(2026, 6, 30), date(2026, 8, 1), date(2026, 9, 1), date(2027, 1, 2)


def renamed(readings: Iterable[Reading], meter_id: str) -> list[Reading]:
    return [r.model_copy(update={"meter_id": meter_id}) for r in readings]


def documents() -> tuple[dict[str, Any], dict[str, Any]]:
    first = registry(
        {**system("MM", "20", "automatic"), "srec_factor": "0.8"},
        system("EST", "10", "automatic"),
        system("HELD", "10", "automatic"),
    )
    first["meters"] = [
        {**meter("MM"), "meter_id": "MM-A"},
        {**meter("MM"), "meter_id": "MM-B"},
        meter("EST"),
        meter("HELD"),
    ]
    late = {"systems": [system("LATE", "10", "automatic")], "meters": [meter("LATE")]}
    return first, late


def held_readings() -> list[Reading]:
    out = daily("HELD", JUN30, JAN2, 40_000)
    sep15 = next(r for r in out if r.ts == datetime(2026, 9, 15, tzinfo=NY))
    glitch = datetime(2026, 9, 15, 12, tzinfo=NY)
    out.append(sep15.model_copy(update={"ts": glitch, "energy_wh": sep15.energy_wh - 50_000}))
    return [Reading.model_validate(r.model_dump(exclude={"content_hash"})) for r in out]


def test_two_quarters_at_the_edges(fresh_db: str) -> None:
    """The ledger and the 2026Q3 and 2026Q4 uploads equal the hand-computed values."""
    first, late = documents()
    mm_b = renamed(daily("MM", JUN30, JAN2, 20_000), "MM-B")
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, first, Decimal(10))
        write_readings(conn, renamed(daily("MM", JUN30, JAN2, 40_000), "MM-A"))
        write_readings(conn, [r for r in mm_b if r.ts <= datetime(2026, 8, 1, tzinfo=NY)])
        write_readings(conn, daily("EST", AUG1, JAN2, 40_000))
        write_readings(conn, held_readings())
        july = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        august = close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        write_readings(conn, [r for r in mm_b if r.ts >= datetime(2026, 9, 1, tzinfo=NY)])
        september = close_month(conn, "2026-09", ADMIN, utc("2026-10-06T12:00"))
        q3 = export_quarter(conn, "2026Q3", ADMIN, utc("2026-10-07T12:00"), "UTC")
        load_registry(conn, late, Decimal(10))
        write_readings(conn, daily("LATE", JUN30, JAN2, 30_000))
        for month in ("2026-07", "2026-08", "2026-09"):
            close_month(conn, month, ADMIN, utc("2026-10-08T12:00"))
        amend(conn, ADMIN, "EST", "2026-07", 1_240_000, "meter photo", "p.jpg",
              utc("2026-10-09T12:00"))  # fmt: skip
        amend(conn, ADMIN, "HELD", "2026-09", 1_200_000, "glitch: register log", "log.csv",
              utc("2026-10-10T12:00"))  # fmt: skip
        for month, at in (("2026-10", "2026-11"), ("2026-11", "2026-12"), ("2026-12", "2027-01")):
            close_month(conn, month, ADMIN, utc(f"{at}-06T12:00"))
        q4 = export_quarter(conn, "2026Q4", ADMIN, utc("2027-01-07T12:00"), "UTC")
        ledger: dict[str, list[tuple[str, str, Decimal, int, Decimal]]] = {}
        for r in certification_store.ledger(conn):
            ledger.setdefault(r.system_id, []).append(
                (r.month, r.entry, r.mwh, r.minted, r.carry_out)
            )

    def energies(report: Any) -> dict[str, tuple[int, int, tuple[str, ...]]]:
        return {
            s.system.system_id: (s.energy_wh, s.certified_wh, s.held_by) for s in report.systems
        }

    assert energies(july) == {
        "EST": (1_500_000, 0, ()),
        "HELD": (1_240_000, 1_240_000, ()),
        "MM": (1_860_000, 1_860_000, ()),
    }
    assert energies(august) == {
        "EST": (1_240_000, 1_240_000, ()),
        "HELD": (1_240_000, 1_240_000, ()),
        "MM": (1_240_000 + 1_350_000, 1_240_000, ()),
    }
    assert energies(september) == {
        "EST": (1_200_000, 1_200_000, ()),
        "HELD": (1_250_000, 1_250_000, ("backwards_register", "register_mismatch")),
        "MM": (2_420_000, 2_420_000, ()),
    }
    assert q3 == (
        "NON-EST,08/2026,1.240\nNON-EST,09/2026,1.200\n"
        "NON-HELD,07/2026,1.240\nNON-HELD,08/2026,1.240\n"
        "NON-MM,07/2026,1.860\nNON-MM,08/2026,1.240\nNON-MM,09/2026,2.420\n"
    )
    assert q4 == (
        "NON-EST,07/2026,1.240\nNON-EST,10/2026,1.240\nNON-EST,11/2026,1.200\n"
        "NON-EST,12/2026,1.240\n"
        "NON-HELD,09/2026,1.200\nNON-HELD,10/2026,1.240\nNON-HELD,11/2026,1.200\n"
        "NON-HELD,12/2026,1.240\n"
        "NON-LATE,07/2026,0.930\nNON-LATE,08/2026,0.930\nNON-LATE,09/2026,0.900\n"
        "NON-LATE,10/2026,0.930\nNON-LATE,11/2026,0.900\nNON-LATE,12/2026,0.930\n"
        "NON-MM,10/2026,1.860\nNON-MM,11/2026,1.800\nNON-MM,12/2026,1.860\n"
    )
    d = Decimal
    assert ledger == {
        "MM": [  # × 0.8: 1.488; 0.992 + 0.488; 1.936 + 0.480; 1.488 + 0.416; 1.440 + 0.904; …
            ("2026-07", "close", d("1.860"), 1, d("0.488")),
            ("2026-08", "close", d("1.240"), 1, d("0.480")),
            ("2026-09", "close", d("2.420"), 2, d("0.416")),
            ("2026-10", "close", d("1.860"), 1, d("0.904")),
            ("2026-11", "close", d("1.800"), 2, d("0.344")),
            ("2026-12", "close", d("1.860"), 1, d("0.832")),
        ],
        "EST": [  # the estimated July minted nothing; its amendment books all 1.240
            ("2026-08", "close", d("1.240"), 1, d("0.240")),
            ("2026-09", "close", d("1.200"), 1, d("0.440")),
            ("2026-07", "amendment:1", d("1.240"), 1, d("0.680")),
            ("2026-10", "close", d("1.240"), 1, d("0.920")),
            ("2026-11", "close", d("1.200"), 2, d("0.120")),
            ("2026-12", "close", d("1.240"), 1, d("0.360")),
        ],
        "HELD": [  # the held September minted nothing; its amendment books all 1.200
            ("2026-07", "close", d("1.240"), 1, d("0.240")),
            ("2026-08", "close", d("1.240"), 1, d("0.480")),
            ("2026-09", "amendment:2", d("1.200"), 1, d("0.680")),
            ("2026-10", "close", d("1.240"), 1, d("0.920")),
            ("2026-11", "close", d("1.200"), 2, d("0.120")),
            ("2026-12", "close", d("1.240"), 1, d("0.360")),
        ],
        "LATE": [
            ("2026-07", "close", d("0.930"), 0, d("0.930")),
            ("2026-08", "close", d("0.930"), 1, d("0.860")),
            ("2026-09", "close", d("0.900"), 1, d("0.760")),
            ("2026-10", "close", d("0.930"), 1, d("0.690")),
            ("2026-11", "close", d("0.900"), 1, d("0.590")),
            ("2026-12", "close", d("0.930"), 1, d("0.520")),
        ],
    }
