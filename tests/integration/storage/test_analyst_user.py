"""`pts db analyst-user`: a login that reads the analyst views and nothing else."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from pts.cli import cli

pytestmark = pytest.mark.integration


@pytest.fixture
def role_name(pg_admin_url: str) -> Iterator[str]:
    """A fresh role name; the role (server-wide) is dropped afterwards."""
    name = f"analyst_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_analyst_user_logs_in_and_reads_only_the_views(
    fresh_db: str, role_name: str, tmp_path: Path
) -> None:
    """The command creates a password login in pts_analyst, prints the password once; the
    login reads the views, not the tables; running it again with a password file resets the
    password (never given on the command line); the login needs it (scram-sha-256)."""
    env = {"PTS_DATABASE_URL": fresh_db}
    first = CliRunner().invoke(cli, ["db", "analyst-user", role_name], env=env)
    secret_file = tmp_path / "secret"
    secret_file.write_text("chosen-secret\n")
    again = CliRunner().invoke(
        cli, ["db", "analyst-user", role_name, "--password-file", str(secret_file)], env=env
    )
    as_analyst = psycopg.conninfo.make_conninfo(fresh_db, user=role_name)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(as_analyst, connect_timeout=5).close()
    with psycopg.connect(as_analyst, password="chosen-secret", autocommit=True) as conn:
        user = conn.execute("SELECT current_user").fetchone()
        views = conn.execute("SELECT count(*) FROM analyst_system_monthly").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM meter_month_energy")
    with psycopg.connect(fresh_db) as conn:
        stored = conn.execute(
            "SELECT rolcanlogin, rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid "
            "WHERE rolname = %s",
            (role_name,),
        ).fetchone()
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == f"analyst login {role_name} created"
    assert re.fullmatch(r"password \(shown once\): [A-Za-z0-9_-]{24}", lines[1])
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[0] == f"analyst login {role_name} password reset"
    assert "chosen-secret" not in again.output
    assert (user, views, stored) == ((role_name,), (0,), (True, True))


@pytest.mark.storage_modes("plain")
def test_analyst_user_refuses_an_existing_non_analyst_role(fresh_db: str) -> None:
    """Pointing it at an existing role (the owner `pts` here) changes nothing and says why."""
    result = CliRunner().invoke(
        cli, ["db", "analyst-user", "pts"], env={"PTS_DATABASE_URL": fresh_db}
    )
    assert result.exit_code == 1
    assert "role pts exists and is not an analyst login; choose another name" in result.output


@pytest.mark.storage_modes("plain")
def test_service_login_joins_its_group_only(fresh_db: str, role_name: str, tmp_path: Path) -> None:
    """`pts db login web NAME --password-file F` makes a password login in pts_web alone."""
    secret_file = tmp_path / "secret"
    secret_file.write_text("web-secret\n")
    made = CliRunner().invoke(
        cli,
        ["db", "login", "web", role_name, "--password-file", str(secret_file)],
        env={"PTS_DATABASE_URL": fresh_db},
    )
    as_web = psycopg.conninfo.make_conninfo(fresh_db, user=role_name, password="web-secret")
    with psycopg.connect(as_web) as conn:
        groups = conn.execute(
            "SELECT array_agg(b.rolname ORDER BY b.rolname) FROM pg_auth_members m "
            "JOIN pg_roles b ON b.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
            "WHERE u.rolname = current_user"
        ).fetchone()
    assert made.exit_code == 0, made.output
    assert made.output.splitlines()[0] == f"web login {role_name} created"
    assert "web-secret" not in made.output
    assert groups == (["pts_web"],)
