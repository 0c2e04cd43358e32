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
- DIAL (10 kW, manual) has a 5-digit kWh dial (wraps at 100,000 kWh). Its representative reports
  at noon on the last day of each month: 99,800 kWh on Jun 30, then 1,040 kWh on Jul 31 (the
  dial rolled over: 1,240 kWh), 2,280, 3,480, 4,410, 5,010, 5,510 kWh. July counts from Jul 1
  00:00: 1,240 kWh less the 12 h of June (20 kWh) = 1.220 MWh; each later month resumes at the
  last report: 1.240, 1.200, 0.930, 0.600, 0.500 MWh.
- SWAP (10 kW, 40 kWh a day) has its meter swapped by the DAS provider on Aug 15: the old
  meter's closing read at 00:00 (2,840,000 Wh), the new one's opening read at 01:00 (500,000
  Wh); the swap hour counts 0 and the new register counts on from 500,000 Wh: August is 1.240
  MWh, like any 31-day month, with no finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from certification.manual_reports import ManualReport
from certification.roles import Account, Role
from certification.workflows.amend_month import amend
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import export_quarter
from certification.workflows.load_registry import load_registry
from certification.workflows.submit_report import submit_manual_report
from schemas import Reading, ReadingEvent, Source
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
AUG15 = date(2026, 8, 15)
TEN = Decimal(10)


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
    first["systems"] += [
        {**system("DIAL", "10", "manual"), "representative_id": "rep-1"},
        system("SWAP", "10", "automatic"),
    ]
    first["meters"] += [{**meter("DIAL"), "register_digits": 5}, meter("SWAP")]
    first["accounts"].append({"account_id": "rep-1", "role": "system_representative"})
    late = {"systems": [system("LATE", "10", "automatic")], "meters": [meter("LATE")]}
    return first, late


DIAL_KWH = {  # month → its reports (local date, dial reading in kWh), sent before it closes
    "2026-07": ((date(2026, 6, 30), 99_800), (date(2026, 7, 31), 1_040)),
    "2026-08": ((date(2026, 8, 31), 2_280),),
    "2026-09": ((date(2026, 9, 30), 3_480),),
    "2026-10": ((date(2026, 10, 31), 4_410),),
    "2026-11": ((date(2026, 11, 30), 5_010),),
    "2026-12": ((date(2026, 12, 31), 5_510),),
}


def report_dial(conn: psycopg.Connection[Any], month: str) -> None:
    """DIAL's reports for `month`, each submitted when it is read (inside the window)."""
    for day, kwh in DIAL_KWH[month]:
        at = datetime(day.year, day.month, day.day, 12, tzinfo=NY)
        submit_manual_report(conn, "rep-1", ManualReport("M-DIAL", kwh * 1000, at), at, TEN)


def swap_readings() -> list[Reading]:
    """Daily DAS readings of SWAP, its meter swapped on Aug 15 (closing 00:00, opening 01:00)."""
    out = []
    for n, r in enumerate(daily("SWAP", JUN30, JAN2, 40_000)):
        day = r.ts.date()
        if day < AUG15:
            out.append(r.model_copy(update={"source": Source.DAS, "source_id": "das-a"}))
        elif day == AUG15:
            out.append(r.model_copy(update={"source": Source.DAS, "source_id": "das-a",
                                            "event": ReadingEvent.CLOSING}))  # fmt: skip
            out.append(
                r.model_copy(
                    update={
                        "ts": datetime(2026, 8, 15, 1, tzinfo=NY),
                        "energy_wh": 500_000,
                        "source": Source.DAS,
                        "source_id": "das-a",
                        "seq": r.seq + 1,
                        "event": ReadingEvent.OPENING,
                    }
                )
            )
        else:
            days_after = (day - AUG15).days
            out.append(
                r.model_copy(
                    update={
                        "energy_wh": 500_000 + days_after * 40_000,
                        "source": Source.DAS,
                        "source_id": "das-a",
                        "seq": r.seq + n + 2,
                    }
                )
            )
    return [Reading.model_validate(r.model_dump(exclude={"content_hash"})) for r in out]


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
        write_readings(conn, swap_readings())
        report_dial(conn, "2026-07")
        july = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        report_dial(conn, "2026-08")
        august = close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        write_readings(conn, [r for r in mm_b if r.ts >= datetime(2026, 9, 1, tzinfo=NY)])
        report_dial(conn, "2026-09")
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
            report_dial(conn, month)
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
        "DIAL": (1_220_000, 1_220_000, ()),  # the dial's rollover counted, nothing held
        "SWAP": (1_240_000, 1_240_000, ()),
        "EST": (1_500_000, 0, ()),
        "HELD": (1_240_000, 1_240_000, ()),
        "MM": (1_860_000, 1_860_000, ()),
    }
    assert energies(august) == {
        "DIAL": (1_240_000, 1_240_000, ()),
        "SWAP": (1_240_000, 1_240_000, ()),  # the swap: no reset, no finding
        "EST": (1_240_000, 1_240_000, ()),
        "HELD": (1_240_000, 1_240_000, ()),
        "MM": (1_240_000 + 1_350_000, 1_240_000, ()),
    }
    assert energies(september) == {
        "DIAL": (1_200_000, 1_200_000, ()),
        "SWAP": (1_200_000, 1_200_000, ()),
        "EST": (1_200_000, 1_200_000, ()),
        "HELD": (1_250_000, 1_250_000, ("backwards_register", "register_mismatch")),
        "MM": (2_420_000, 2_420_000, ()),
    }
    assert q3 == (
        "NON-DIAL,07/2026,1.220\nNON-DIAL,08/2026,1.240\nNON-DIAL,09/2026,1.200\n"
        "NON-EST,08/2026,1.240\nNON-EST,09/2026,1.200\n"
        "NON-HELD,07/2026,1.240\nNON-HELD,08/2026,1.240\n"
        "NON-MM,07/2026,1.860\nNON-MM,08/2026,1.240\nNON-MM,09/2026,2.420\n"
        "NON-SWAP,07/2026,1.240\nNON-SWAP,08/2026,1.240\nNON-SWAP,09/2026,1.200\n"
    )
    assert q4 == (
        "NON-DIAL,10/2026,0.930\nNON-DIAL,11/2026,0.600\nNON-DIAL,12/2026,0.500\n"
        "NON-EST,07/2026,1.240\nNON-EST,10/2026,1.240\nNON-EST,11/2026,1.200\n"
        "NON-EST,12/2026,1.240\n"
        "NON-HELD,09/2026,1.200\nNON-HELD,10/2026,1.240\nNON-HELD,11/2026,1.200\n"
        "NON-HELD,12/2026,1.240\n"
        "NON-LATE,07/2026,0.930\nNON-LATE,08/2026,0.930\nNON-LATE,09/2026,0.900\n"
        "NON-LATE,10/2026,0.930\nNON-LATE,11/2026,0.900\nNON-LATE,12/2026,0.930\n"
        "NON-MM,10/2026,1.860\nNON-MM,11/2026,1.800\nNON-MM,12/2026,1.860\n"
        "NON-SWAP,10/2026,1.240\nNON-SWAP,11/2026,1.200\nNON-SWAP,12/2026,1.240\n"
    )
    d = Decimal
    assert ledger == {
        "DIAL": [  # 1.220; 1.240 + .220; 1.200 + .460; 0.930 + .660; 0.600 + .590; 0.500 + .190
            ("2026-07", "close", d("1.220"), 1, d("0.220")),
            ("2026-08", "close", d("1.240"), 1, d("0.460")),
            ("2026-09", "close", d("1.200"), 1, d("0.660")),
            ("2026-10", "close", d("0.930"), 1, d("0.590")),
            ("2026-11", "close", d("0.600"), 1, d("0.190")),
            ("2026-12", "close", d("0.500"), 0, d("0.690")),
        ],
        "SWAP": [  # 40 kWh a day through the swap
            ("2026-07", "close", d("1.240"), 1, d("0.240")),
            ("2026-08", "close", d("1.240"), 1, d("0.480")),
            ("2026-09", "close", d("1.200"), 1, d("0.680")),
            ("2026-10", "close", d("1.240"), 1, d("0.920")),
            ("2026-11", "close", d("1.200"), 2, d("0.120")),
            ("2026-12", "close", d("1.240"), 1, d("0.360")),
        ],
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
