"""`pts month close` shows held months; `pts month accept` releases one, with its reason,
once (issue 10 item 0 at the command line)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from schemas import Reading, Source
from storage import certification_store
from storage.writer import write_readings
from tests.integration.certification.test_cli import run
from tests.integration.web.support import bootstrap_admin

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")
REGISTRY_YAML = """
accounts:
  - {account_id: staff-1, role: admin}
  - {account_id: owner-1, role: system_owner, email: owner@example.org}
approved_meters:
  - {model: ACME-1, accuracy_class: "2.0"}
systems:
  - {system_id: S1, owner_id: owner-1, capacity_kw_dc: "1", reporting_method: manual,
     gis_unit_id: NON1, rec_terms_accepted: true}
meters:
  - {meter_id: M1, system_id: S1, serial: X1, model: ACME-1, accuracy_class: "2.0",
     installed_on: "2024-01-01"}
"""


def reading(ts: datetime, wh: int) -> Reading:
    return Reading(meter_id="M1", ts=ts, energy_wh=wh, source=Source.MANUAL, source_id="rep-1",
                   seq=wh, received_at=ts)  # fmt: skip


def test_close_shows_the_hold_and_accept_releases_it(fresh_db: str, tmp_path: Path) -> None:
    """400 kWh in July from 1 kW DC is over capacity: held, nothing minted; accepting it as
    reported is refused, also after a registry load of 5 kW (it takes effect from its day, not
    in closed July), until staff correct the capacity from June 1 (`pts registry capacity`):
    then it mints 0 certificates and carries 0.4 (recorded with who and why)."""
    registry_file = tmp_path / "registry.yaml"
    registry_file.write_text(REGISTRY_YAML)
    bootstrap_admin(fresh_db, "staff-1")
    assert run(fresh_db, "registry", "load", str(registry_file), "--as", "staff-1")[0] == 0
    with psycopg.connect(fresh_db) as conn:
        write_readings(
            conn,
            [reading(datetime(2026, 7, 1, tzinfo=NY), 0),
             reading(datetime(2026, 8, 1, tzinfo=NY), 400_000)],
        )  # fmt: skip
    now = ("--now", "2026-08-06T12:00:00+00:00")
    closed = run(fresh_db, "month", "close", "2026-07", "--as", "staff-1", *now)
    again = run(fresh_db, "month", "close", "2026-07", "--as", "staff-1", *now)
    no_reason = run(fresh_db, "month", "accept", "S1", "2026-07", "--as", "staff-1", *now)
    outdated = run(fresh_db, "month", "accept", "S1", "2026-07", "--as", "staff-1",
                   "--reason", "panels replaced in June: 1 kW is outdated", *now)  # fmt: skip
    # a registry load's new capacity takes effect from its day, never in closed July
    registry_file.write_text(REGISTRY_YAML.replace('capacity_kw_dc: "1"', 'capacity_kw_dc: "5"'))
    assert run(fresh_db, "registry", "load", str(registry_file), "--as", "staff-1", *now)[0] == 0
    reloaded = run(fresh_db, "month", "accept", "S1", "2026-07", "--as", "staff-1",
                   "--reason", "panels replaced in June: 1 kW is outdated", *now)  # fmt: skip
    corrected = run(fresh_db, "registry", "capacity", "S1", "5", "--since", "2026-06-01",
                    "--reason", "as-built: 5 kW since June", "--as", "staff-1", *now)  # fmt: skip
    accepted = run(fresh_db, "month", "accept", "S1", "2026-07", "--as", "staff-1",
                   "--reason", "panels replaced in June: 1 kW is outdated", *now)  # fmt: skip
    twice = run(fresh_db, "month", "accept", "S1", "2026-07", "--as", "staff-1",
                "--reason", "again", *now)  # fmt: skip
    with psycopg.connect(fresh_db) as conn:
        ledger = [
            (r.month, r.entry, r.minted, r.carry_out) for r in certification_store.ledger(conn)
        ]
    assert closed[0] == 0
    assert closed[1].startswith(
        "system,energy_wh,estimated,minted,carry\nS1,400000,false,0,0\n"
        "held (nothing minted or exported until amended or accepted as reported):\n"
        "  S1: over_capacity\n"
    )
    assert again[0] == 2
    assert "refused: month_closed:" in again[2]
    assert no_reason[0] == 2  # --reason is required
    # 400,000 Wh > 1 kW × 744 h × 0.30: accepting would mint what close calls impossible;
    # once the registry says 5 kW (panels replaced) it is accepted
    assert outdated[0] == 2
    assert "refused: accept_implausible:" in outdated[2]
    assert reloaded[0] == 2
    assert "refused: accept_implausible:" in reloaded[2]
    assert corrected[:2] == (0, "S1: 5 kW DC from 2026-06-01 (by staff-1)\n")
    assert accepted[:2] == (0, "S1 2026-07 accepted as reported by staff-1: 400000 Wh certified\n")
    assert twice[0] == 2
    assert "refused: month_released:" in twice[2]
    assert ledger == [("2026-07", "accepted", 0, Decimal("0.4"))]
