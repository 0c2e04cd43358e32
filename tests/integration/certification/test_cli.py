"""The `pts` certification commands end to end against the real PostgreSQL: load the
registry, submit manual reports, close months, audit, amend, export and report."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pts.cli import cli
from tests.integration.web.support import api_token, bootstrap_admin

pytestmark = pytest.mark.integration

REGISTRY_YAML = """
accounts:
  - {account_id: staff-1, role: admin}
  - {account_id: owner-1, role: system_owner, email: owner@example.org}
  - {account_id: rep-1, role: system_representative}
approved_meters:
  - {model: ACME-1, accuracy_class: "2.0"}
systems:
  - system_id: S1
    owner_id: owner-1
    representative_id: rep-1
    capacity_kw_dc: "10"
    reporting_method: manual
    gis_unit_id: NON1
    rec_terms_accepted: true
meters:
  - {meter_id: M1, system_id: S1, serial: X1, model: ACME-1, accuracy_class: "2.0",
     installed_on: "2024-01-01"}
"""


def run(url: str, *args: str, token: str = "") -> tuple[int, str, str]:
    """`pts ARGS`; a person acts with their API token (PTS_TOKEN), admins here as operators
    (--as)."""
    env = {"PTS_DATABASE_URL": url, "PTS_TOKEN": token}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def report(url: str, wh: int, local: str) -> tuple[int, str, str]:
    """A manual report read at `local` (EDT) and submitted an hour later."""
    at = f"{local}-04:00"
    now = at.replace("T20:", "T21:")
    return run(
        url,
        "report",
        "submit",
        "--meter",
        "M1",
        "--register-wh",
        str(wh),
        "--at",
        at,
        "--now",
        now,
        token=api_token(url, "rep-1"),
    )


def test_monthly_cycle_through_the_cli(fresh_db: str, tmp_path: Path) -> None:
    """Each command prints exactly what it decided; refusals exit 2 with the reason."""
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY_YAML)
    bootstrap_admin(fresh_db, "staff-1")  # pts accounts create-admin, on the server
    assert run(fresh_db, "registry", "load", str(registry), "--as", "staff-1")[:2] == (
        0,
        "providers=0 accounts=3 approved_meters=1 systems=1 meters=1\n",
    )
    assert report(fresh_db, 1_000_000, "2026-06-30T20:00:00")[:2] == (
        0,
        "accepted M1 1000000 Wh at 2026-06-30T20:00:00-04:00\n",
    )
    assert report(fresh_db, 2_240_000, "2026-07-31T20:00:00")[0] == 0
    refused = run(
        fresh_db,
        "report",
        "submit",
        "--meter",
        "M1",
        "--register-wh",
        "2300000",
        "--now",
        "2026-08-01T12:00:00+00:00",
        token=api_token(fresh_db, "owner-1"),
    )
    assert refused[0] == 2
    assert refused[2].startswith("refused: not_the_representative: only the System Representative")

    code, out, _ = run(
        fresh_db,
        "month",
        "close",
        "2026-07",
        "--as",
        "staff-1",
        "--now",
        "2026-08-06T05:00:00+00:00",
    )
    # Jul 1 00:00 EDT is 4 h into the 744 h report interval: 1,240,000 × 4/744 → 6,666 Wh
    # belong to June; July counts to its report of Jul 31 20:00, taken in the window
    assert (code, out) == (
        0,
        "system,energy_wh,estimated,minted,carry\nS1,1233334,false,1,0.233\ncontact list:\n",
    )
    code, out, _ = run(
        fresh_db,
        "audit",
        "record",
        "--as",
        "staff-1",
        "--meter",
        "M1",
        "--register-wh",
        "1620000",
        "--at",
        "2026-07-16T12:00:00-04:00",
        "--evidence",
        "photo-9.jpg",
        "--now",
        "2026-08-10T00:00:00+00:00",
    )
    # 376 of 744 h: 1,240,000 × 376/744 → 626,666 Wh; −6,666 is 1.06% of it, within ±2%
    assert (code, out) == (
        0,
        "consistent: audit 1620000 Wh, reported 1626666 Wh, deviation 1.06% (tolerance 2.0%)\n",
    )
    code, out, _ = run(
        fresh_db,
        "audit",
        "amend",
        "--as",
        "staff-1",
        "--system",
        "S1",
        "--month",
        "2026-07",
        "--energy-wh",
        "1240000",
        "--reason",
        "June's share belongs to July (report taken late)",
        "--evidence",
        "ticket-12",
        "--now",
        "2026-08-11T00:00:00+00:00",
    )
    assert (code, out) == (0, "amendment 1 recorded\n")

    assert report(fresh_db, 3_480_000, "2026-08-31T20:00:00")[0] == 0
    assert report(fresh_db, 4_680_000, "2026-09-30T20:00:00")[0] == 0
    for month, now in (
        ("2026-08", "2026-09-06T05:00:00+00:00"),
        ("2026-09", "2026-10-06T05:00:00+00:00"),
    ):
        assert run(fresh_db, "month", "close", month, "--as", "staff-1", "--now", now)[0] == 0
    out_file = tmp_path / "gis.csv"
    code, out, _ = run(
        fresh_db,
        "srec",
        "export",
        "2026Q3",
        "--as",
        "staff-1",
        "--out",
        str(out_file),
        "--now",
        "2026-10-07T00:00:00+00:00",
    )
    assert (code, out) == (0, f"3 lines written to {out_file}\n")
    # August runs from July's last report (Jul 31 20:00) to Sep 1 00:00: 1,240,000 Wh plus
    # 4/720 of September's 1,200,000 (6,666); September then counts to its own report.
    # With amended July the quarter is 3.680 MWh: 4,680,000 − 1,000,000 Wh, the whole rise.
    assert out_file.read_text() == "NON1,07/2026,1.240\nNON1,08/2026,1.247\nNON1,09/2026,1.193\n"

    code, out, _ = run(fresh_db, "srec", "report", "--system", "S1", "--as", "staff-1")
    assert code == 0
    assert out.splitlines()[0] == "system S1 (unit NON1)"
    assert (
        "  2026-07 amendment:1: 0.007 MWh × 1 + carry 0.233 → 0 minted, carry 0.24; "
        "no certificate" in out.splitlines()
    )
