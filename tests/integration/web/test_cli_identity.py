"""`pts` commands that act for a person take the identity from an API token (PTS_TOKEN or
PTS_TOKEN_FILE) verified against the web's accounts; `--as` is only the operator mode of
admins on the server; `pts registry load` is an admin's act that cannot make admins or change
a REC Owner."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from pts.cli import cli
from tests.integration.web.support import ADMIN, OWNER, REC_OWNER, REGISTRY, REP, api_token
from web import credential_store

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]

NOW = ("--now", "2026-10-30T16:00:00+00:00")
NOW_AT = datetime(2026, 10, 30, 16, tzinfo=UTC)


def run(url: str, *args: str, token: str = "", token_file: Path | None = None) -> tuple[int, str]:
    """Exit status, and stdout when it succeeded, else the refusal line printed (stderr)."""
    env = {"PTS_DATABASE_URL": url, "PTS_TOKEN": token}
    if token_file is not None:
        env["PTS_TOKEN_FILE"] = str(token_file)
    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exit_code == 0:
        return 0, result.stdout
    refusals = [line for line in result.stderr.splitlines() if line.startswith("refused: ")]
    return result.exit_code, "\n".join(refusals) or result.stderr


SUBMIT = ("report", "submit", "--meter", "M1", "--register-wh", "1000", "--at", "2026-10-29")


def test_a_report_is_submitted_as_the_tokens_account(seeded_db: str, tmp_path: Path) -> None:
    """rep-1's token submits rep-1's reading (env or file); a typed --as rep-1, no token or a
    revoked token are refused with what to do."""
    token = api_token(seeded_db, REP)
    assert run(seeded_db, *SUBMIT, *NOW)[1].startswith("refused: token_required: report submit")
    typed = run(seeded_db, *SUBMIT, "--as", REP, *NOW)
    assert typed[0] == 2
    assert "refused: operator_admin_only: --as is the operator mode of admins" in typed[1]
    owner = run(seeded_db, *SUBMIT, *NOW, token=api_token(seeded_db, OWNER))
    assert "refused: not_the_representative" in owner[1]
    path = tmp_path / "token"
    path.write_text(token + "\n")
    assert run(seeded_db, *SUBMIT, *NOW, token_file=path) == (
        0,
        "accepted M1 1000 Wh at 2026-10-29T12:00:00-04:00\n",
    )
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        [(token_id,)] = conn.execute(
            "SELECT token_id FROM api_tokens WHERE account_id = %s", (REP,)
        ).fetchall()
        credential_store.revoke_token(conn, REP, token_id, NOW_AT)
    revoked = run(seeded_db, *SUBMIT, *NOW, token=token)
    assert (revoked[0], revoked[1].split(":")[1].strip()) == (2, "bad_token")


def test_admins_act_with_a_token_or_as_operators_on_the_server(seeded_db: str) -> None:
    """The SREC report names its viewer: an admin by token or --as; an owner's token shows
    only the owner's systems; nobody: refused."""
    assert "token_required" in run(seeded_db, "srec", "report")[1]
    assert run(seeded_db, "srec", "report", "--as", ADMIN)[0] == 0
    assert run(seeded_db, "srec", "report", token=api_token(seeded_db, ADMIN))[0] == 0
    mine = run(seeded_db, "srec", "report", "--system", "S2", token=api_token(seeded_db, OWNER))
    assert mine[0] == 2
    assert "not_your_system" in mine[1]


def _document(tmp_path: Path, change: dict[str, object]) -> Path:
    data = {**REGISTRY, **change}
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_registry_load_is_an_admins_act_that_cannot_make_admins(
    seeded_db: str, tmp_path: Path
) -> None:
    """Only an admin loads; a document making owner-1 an admin is refused whole (owner-1
    stays an owner); the same document unchanged loads."""
    same = _document(tmp_path, {})
    by_owner = run(seeded_db, "registry", "load", str(same), token=api_token(seeded_db, OWNER))
    assert (by_owner[0], by_owner[1].split(":")[1].strip()) == (2, "admin_only")
    promoted = [
        {**a, "role": "admin"} if a["account_id"] == OWNER else a for a in REGISTRY["accounts"]
    ]
    path = _document(tmp_path, {"accounts": promoted})
    refused = run(seeded_db, "registry", "load", str(path), "--as", ADMIN)
    assert refused[0] == 2
    assert refused[1].startswith("refused: admin_by_load: the document makes owner-1 an admin")
    with psycopg.connect(seeded_db) as conn:
        role = conn.execute("SELECT role FROM accounts WHERE account_id = %s", (OWNER,)).fetchone()
    assert role == ("system_owner",)
    loaded = run(seeded_db, "registry", "load", str(_document(tmp_path, {})), "--as", ADMIN)
    assert loaded == (0, "providers=1 accounts=9 approved_meters=2 systems=3 meters=3\n")


def test_registry_load_cannot_change_a_rec_owner(seeded_db: str, tmp_path: Path) -> None:
    """A document handing S1's certificates from buyer-9 to buyer-10 is refused, by token or
    by operator, pointing to the change request; S1's REC Owner stays buyer-9."""
    systems = [
        {**s, "rec_owner_id": "buyer-10"} if s["system_id"] == "S1" else s
        for s in REGISTRY["systems"]
    ]
    path = _document(tmp_path, {"systems": systems})
    by_token = run(seeded_db, "registry", "load", str(path), token=api_token(seeded_db, ADMIN))
    by_operator = run(seeded_db, "registry", "load", str(path), "--as", ADMIN)
    for code, text in (by_token, by_operator):
        assert code == 2
        assert text.startswith(
            "refused: rec_owner_by_load: the document changes the REC Owner of S1 "
            "(buyer-9 → buyer-10); a REC Owner changes only through a change request"
        )
    with psycopg.connect(seeded_db) as conn:
        owner = conn.execute("SELECT rec_owner_id FROM systems WHERE system_id = 'S1'").fetchone()
    assert owner == (REC_OWNER,)
