"""`pts report withdraw`: the CLI's withdrawal and correction of a manual reading, with the
identity of the API token, under the same rules as the portal and the API."""

from __future__ import annotations

import psycopg
import pytest

from storage.energy_store import monthly_totals
from tests.integration.web.support import OWNER, REP, api_token
from tests.integration.web.test_cli_identity import NOW, run

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]

# 29 October 09:30 New York, inside October's window (the CLI's --now is 30 October 12:00)
SUBMIT = ("report", "submit", "--meter", "M1", "--at", "2026-10-29T09:30", *NOW)
WITHDRAW = ("report", "withdraw", "--meter", "M1", "--at", "2026-10-29T09:30", *NOW)


def test_the_representative_corrects_from_the_cli(seeded_db: str) -> None:
    """1,000 kWh on 27 October, 1,250.0 typed for 1,150.0 on the 29th, corrected: October
    so far counts 150,000 Wh."""
    token = api_token(seeded_db, REP)
    first = ("report", "submit", "--meter", "M1", "--at", "2026-10-27T09:30", *NOW)
    assert run(seeded_db, *first, "--register-wh", "1000000", token=token)[0] == 0
    assert run(seeded_db, *SUBMIT, "--register-wh", "1250000", token=token)[0] == 0
    status, out = run(
        seeded_db, *WITHDRAW, "--reason", "typo", "--corrected-register-wh", "1150000",
        token=token,
    )  # fmt: skip
    assert (status, out) == (
        0,
        "withdrawn M1 1250000 Wh at 2026-10-29T09:30:00-04:00 (filed 2026-10); in its place: "
        "1150000 Wh\n",
    )
    with psycopg.connect(seeded_db) as conn:
        assert monthly_totals(conn)[("M1", "2026-10")] == 150_000


def test_the_owner_is_refused_from_the_cli(seeded_db: str) -> None:
    assert (
        run(seeded_db, *SUBMIT, "--register-wh", "1250000", token=api_token(seeded_db, REP))[0] == 0
    )
    status, out = run(seeded_db, *WITHDRAW, "--reason", "typo", token=api_token(seeded_db, OWNER))
    assert status == 2
    assert out.startswith("refused: not_the_representative: only the System Representative of S1")
