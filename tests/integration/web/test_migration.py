"""Migration 010 in both storage modes: the tables, and the append-only event and write logs."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from web import credential_store

pytestmark = pytest.mark.integration


def test_events_and_writes_are_append_only(fresh_db: str) -> None:
    at = datetime(2026, 10, 30, tzinfo=UTC)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        credential_store.add_event(conn, "owner-1", "signin_failed", "10.0.0.1", at)
        credential_store.add_write(conn, "staff", at, "POST /x", "S1", "10.0.0.2", "done")
        conn.execute("UPDATE account_events SET tag = 'signin_succeeded'")
        conn.execute("DELETE FROM account_events")
        conn.execute("UPDATE write_log SET outcome = 'x'")
        conn.execute("DELETE FROM write_log")
        assert [(e.tag, e.address) for e in credential_store.events_of(conn, "owner-1")] == [
            ("signin_failed", "10.0.0.1")
        ]
        assert conn.execute("SELECT outcome FROM write_log").fetchall() == [("done",)]
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE tablename IN ('account_credentials', "
                "'web_sessions', 'api_tokens', 'account_links')"
            ).fetchall()
        }
    assert tables == {"account_credentials", "web_sessions", "api_tokens", "account_links"}
