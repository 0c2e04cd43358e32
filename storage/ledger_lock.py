"""The SREC ledger's lock: every workflow that writes the ledger (month close, amendment,
accept as reported, audit, NEPOOL GIS export) takes it first in its transaction, so two admins
at once are served one after the other and the second decides on what the first committed
(a month is never closed, amended or credited twice). A transaction-level advisory lock:
released at commit or rollback, never left behind by a crashed client."""

from __future__ import annotations

from typing import Any

import psycopg

_LEDGER_LOCK = 7_413_021  # advisory lock id (storage.migrate's is 7_413_001)


def lock_ledger(conn: psycopg.Connection[Any]) -> None:
    """Wait for and hold the ledger lock until the current transaction ends (call it inside
    the workflow's transaction, before anything it decides on is read)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LEDGER_LOCK,))
