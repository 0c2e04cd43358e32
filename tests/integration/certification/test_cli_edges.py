"""What the certification commands ask for and print: an acting account where a command
records who acted, `--now` everywhere, times in the system's local time zone."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pts.cli import cli
from tests.integration.certification.test_cli import REGISTRY_YAML, report
from tests.integration.web.support import bootstrap_admin

pytestmark = pytest.mark.integration


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"PTS_DATABASE_URL": url})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("command", "action"),
    [
        (("month", "close", "2026-07"), "month close"),
        (("srec", "export", "2026Q3", "--out", "gis.csv"), "srec export"),
    ],
)
def test_commands_that_record_who_acted_need_as(
    fresh_db: str, command: tuple[str, ...], action: str
) -> None:
    """No default account (an `admin` account may not exist), no API token: refused, saying
    what to give."""
    code, out, err = run(fresh_db, *command, "--now", "2026-10-07T00:00:00+00:00")
    assert (code, out) == (2, "")
    assert err == (
        f"refused: token_required: {action} acts for a person: set PTS_TOKEN (or "
        "PTS_TOKEN_FILE) to your personal API token (the portal's Account page, or POST "
        "/api/v1/me/tokens); admins on the server may name themselves with --as\n"
    )


def test_now_everywhere_and_local_times_in_the_report(fresh_db: str, tmp_path: Path) -> None:
    """`registry load --now` and `srec report --now` are accepted; the report prints the
    readings and the amendment in the system's time zone (EDT), not in UTC."""
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY_YAML)
    now = ("--now", "2026-06-01T00:00:00+00:00")
    bootstrap_admin(fresh_db, "staff-1")
    assert run(fresh_db, "registry", "load", str(registry), "--as", "staff-1", *now)[:2] == (
        0,
        "providers=0 accounts=3 approved_meters=1 systems=1 meters=1\n",
    )
    assert report(fresh_db, 1_000_000, "2026-06-30T20:00:00")[0] == 0
    assert report(fresh_db, 2_240_000, "2026-07-31T20:00:00")[0] == 0
    close = ("month", "close", "2026-07", "--as", "staff-1", "--now", "2026-08-06T05:00:00Z")
    assert run(fresh_db, *close)[0] == 0
    amend = (
        "audit", "amend", "--as", "staff-1", "--system", "S1", "--month", "2026-07",
        "--energy-wh", "1240000", "--reason", "late report", "--evidence", "ticket-12",
        "--now", "2026-08-11T00:00:00+00:00",
    )  # fmt: skip
    assert run(fresh_db, *amend)[0] == 0
    code, out, _ = run(
        fresh_db,
        "srec",
        "report",
        "--system",
        "S1",
        "--as",
        "staff-1",
        "--now",
        "2026-08-12T00:00:00+00:00",
    )
    lines = out.splitlines()
    assert code == 0
    assert (
        "    meter M1: 1233334 Wh (1 readings) from 1000000 Wh @ 2026-06-30T20:00:00-04:00 "
        "to 2240000 Wh @ 2026-07-31T20:00:00-04:00; edited: amendment 1 states the month "
        "1240000 Wh" in lines
    )
    assert (
        "    amendment 1 by staff-1 at 2026-08-10T20:00:00-04:00: 1233334 Wh → 1240000 Wh; "
        "why: late report; evidence: ticket-12" in lines
    )


@pytest.mark.parametrize("now", ["yesterday", "2026-08-06T12:00"])
def test_a_bad_now_says_what_to_give(fresh_db: str, now: str) -> None:
    """--now that is no time, or has no offset, is refused with the form expected."""
    code, out, err = run(fresh_db, "srec", "report", "--now", now)
    assert (code, out) == (2, "")
    assert (
        f"--now {now!r} is not a time with its UTC offset; give e.g. "
        "2026-08-06T12:00:00+00:00" in err
    )


def test_audit_time_without_offset_is_local(fresh_db: str, tmp_path: Path) -> None:
    """`audit record --at 2026-07-16T12:00` is noon EDT, as a report's time is: the same
    comparison as with the offset written out (1,626,666 Wh reported at that instant)."""
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY_YAML)
    bootstrap_admin(fresh_db, "staff-1")
    assert run(fresh_db, "registry", "load", str(registry), "--as", "staff-1")[0] == 0
    assert report(fresh_db, 1_000_000, "2026-06-30T20:00:00")[0] == 0
    assert report(fresh_db, 2_240_000, "2026-07-31T20:00:00")[0] == 0
    code, out, _ = run(
        fresh_db, "audit", "record", "--as", "staff-1", "--meter", "M1", "--register-wh",
        "1620000", "--at", "2026-07-16T12:00", "--evidence", "photo-9.jpg",
        "--now", "2026-08-10T00:00:00+00:00",
    )  # fmt: skip
    assert (code, out) == (
        0,
        "consistent: audit 1620000 Wh, reported 1626666 Wh, deviation 1.06% (tolerance 2.0%)\n",
    )
