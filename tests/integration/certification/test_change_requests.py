"""Change requests of every kind against the real PostgreSQL, through the workflows and the
CLI: one open request per system across kinds, admin approval applies the change."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from certification import change_requests as cr
from certification.errors import Refused
from certification.workflows.change_requests import (
    decide_change_request,
    request_change,
    request_rec_owner_change,
)
from pts.cli import cli
from storage import certification_store, registry_store
from tests.integration.web.support import api_token, bootstrap_admin

pytestmark = pytest.mark.integration

NOW = datetime(2026, 10, 1, tzinfo=UTC)
REGISTRY: dict[str, Any] = {
    "providers": [
        {"provider_id": "das-a", "name": "A", "approved": True},
        {"provider_id": "das-b", "name": "B", "approved": True},
    ],
    "accounts": [
        {"account_id": "staff-1", "role": "admin"},
        {"account_id": "owner-1", "role": "system_owner"},
        {"account_id": "rep-1", "role": "system_representative"},
        {"account_id": "rep-2", "role": "system_representative"},
    ],
    "systems": [
        {
            "system_id": "S1",
            "owner_id": "owner-1",
            "representative_id": "rep-1",
            "capacity_kw_dc": "10",
            "reporting_method": "manual",
        },
        {
            "system_id": "S2",
            "owner_id": "owner-1",
            "capacity_kw_dc": "50",
            "reporting_method": "automatic",
            "das_provider_id": "das-a",
        },
    ],
}


def run(url: str, *args: str, token: str = "") -> tuple[int, str, str]:
    """`pts ARGS`; a person acts with their API token (PTS_TOKEN), admins as operators."""
    env = {"PTS_DATABASE_URL": url, "PTS_TOKEN": token}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def load(url: str, tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(REGISTRY))
    bootstrap_admin(url, "staff-1")  # pts accounts create-admin, on the server
    assert run(url, "registry", "load", str(path), "--as", "staff-1")[0] == 0


def test_representative_change_blocks_other_kinds_until_decided(
    fresh_db: str, tmp_path: Path
) -> None:
    """The owner asks for rep-2 on S1; a REC Owner request on S1 meanwhile is refused; an
    admin approves: S1's representative is rep-2 in the registry, the request kept with its
    kind; then a REC Owner request may open."""
    load(fresh_db, tmp_path)
    with psycopg.connect(fresh_db) as conn:
        opened = request_change(
            conn, "owner-1", "S1", "r1", cr.Kind.REPRESENTATIVE, "rep-2", None, NOW
        )
        with pytest.raises(Refused) as blocked:
            request_rec_owner_change(conn, "owner-1", "S1", "r2", "rep-1", "doc://t", NOW)
        decide_change_request(conn, "staff-1", "S1", "r1", cr.Status.APPROVED, NOW)
        request_rec_owner_change(conn, "owner-1", "S1", "r3", "rep-1", "doc://t", NOW)
        system = registry_store.get_system(conn, "S1")
        rows = certification_store.change_requests(conn, "S1")
    assert (opened.kind, opened.status) == (cr.Kind.REPRESENTATIVE, cr.Status.OPEN)
    assert blocked.value.code == "request_already_open"
    assert system is not None
    assert system.representative_id == "rep-2"
    assert [(r.request_id, r.kind, r.new_party_id, r.status, r.decided_by) for r in rows] == [
        ("r1", "representative", "rep-2", "approved", "staff-1"),
        ("r3", "rec_owner", "rep-1", "open", None),
    ]


def test_das_provider_change_through_the_cli(fresh_db: str, tmp_path: Path) -> None:
    """`registry request-change --kind das-provider` then `registry decide approved`: S2 is
    reported by das-b; the representative cannot decide; an unknown provider is refused."""
    load(fresh_db, tmp_path)
    owner = api_token(fresh_db, "owner-1")
    common = ("registry", "request-change", "--system", "S2")
    unknown = run(fresh_db, *common, "--request", "p0", "--kind", "das-provider", "--new", "x",
                  token=owner)  # fmt: skip
    opened = run(fresh_db, *common, "--request", "p1", "--kind", "das-provider", "--new", "das-b",
                 token=owner)  # fmt: skip
    by_owner = run(fresh_db, "registry", "decide", "--system", "S2",
                   "--request", "p1", "approved", token=owner)  # fmt: skip
    approved = run(fresh_db, "registry", "decide", "--as", "staff-1", "--system", "S2",
                   "--request", "p1", "approved")  # fmt: skip
    assert unknown[0] == 2
    assert unknown[2] == (
        "refused: unknown_provider: no DAS provider 'x' is registered; register it before the "
        "change\n"
    )
    assert opened[:2] == (0, "p1 das_provider open\n")
    assert (by_owner[0], by_owner[2]) == (
        2,
        "refused: admin_only: only an admin may approve a request\n",
    )
    assert approved[:2] == (
        0,
        "p1 approved; REC Owner of S2: owner-1, representative: -, DAS provider: das-b\n",
    )
