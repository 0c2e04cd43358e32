"""schemathesis against /api/openapi.json on the real app (uvicorn) and PostgreSQL: no 5xx,
every status, content type and body as documented. A fixed budget of examples per operation
(PTS_SCHEMATHESIS_EXAMPLES, default 15) keeps the run bounded; the calls are made as an
admin, who may reach every operation."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from storage.migrate import migrate
from tests.integration.web.support import ADMIN, IN_WINDOW, Clock, make_app, seed, served
from web.accounts import as_account, create_token
from web.credential_store import get_account

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("PTS_SCHEMATHESIS_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_server(pg_admin_url: str) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of the app on a seeded scratch database, for the module."""
    name = f"pts_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)
    try:
        migrate(url, "plain", schedule_jobs=False)
        seed(url)
        with served(make_app(url, Clock(IN_WINDOW))) as base:
            yield base, url
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_api_conforms_to_its_schema(api_server: tuple[str, str]) -> None:
    """Every operation of the document, EXAMPLES generated cases each, called as an admin."""
    base, url = api_server
    with psycopg.connect(url, autocommit=True) as conn:
        admin = get_account(conn, ADMIN)
    assert admin is not None

    def fresh_token() -> str:
        """A token per case: a generated DELETE /me/tokens/{id} may revoke an earlier one."""
        with psycopg.connect(url, autocommit=True) as conn:
            return create_token(conn, as_account(admin), "st", datetime.now(UTC), "t")[1]

    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    # .ok() of an operation the document cannot describe raises, failing the test
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 18

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case[Any]) -> None:
            headers = {"Authorization": f"Bearer {fresh_token()}"}
            case.call_and_validate(headers=headers, checks=CHECKS)

        conforms()
