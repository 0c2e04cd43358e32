"""Two admins at once (certificates engineer, session 6): the workflows that write the SREC
ledger (close, amend, accept, audit, export) take one ledger lock for their transaction, so
the second waits for the first and then decides on what the first committed: a month is
never closed, amended or credited twice.

Each test holds the first admin's transaction open, starts the second admin in a thread,
and commits the first only once the second is certainly waiting for the lock (its backend
waits on an advisory lock) or has already finished (the unlocked behaviour): no sleep decides
the outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from certification.errors import Refused
from certification.roles import Account, Role
from certification.workflows.amend_month import amend
from certification.workflows.close_month import close_month
from certification.workflows.load_registry import load_registry
from storage import certification_store
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import daily, registry, system, utc

pytestmark = pytest.mark.integration

ALICE = Account("staff-1", Role.ADMIN)
BOB = Account("staff-2", Role.ADMIN)
D = Decimal


def _second_admin(
    url: str, work: Callable[[psycopg.Connection[Any]], object], first: psycopg.Connection[Any]
) -> BaseException | None:
    """Run `work` on a connection of its own in a thread while `first`'s transaction is
    open; commit `first` once the thread waits on a lock or is done; the thread's error."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            with psycopg.connect(url, autocommit=False) as conn:
                pid.append(conn.info.backend_pid)
                work(conn)
                conn.commit()
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    pid: list[int] = []
    thread = threading.Thread(target=run)
    thread.start()
    with psycopg.connect(url, autocommit=True) as watcher:
        deadline = time.monotonic() + 60
        while thread.is_alive() and time.monotonic() < deadline:
            waiting = pid and watcher.execute(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                (pid[0],),
            ).fetchone() == (True,)
            if waiting:
                break
            time.sleep(0.05)
    first.commit()
    thread.join(60)
    assert not thread.is_alive()
    return outcome[0]


def _setup(url: str) -> None:
    with psycopg.connect(url) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 8, 2), 40_000))


def test_two_admins_closing_one_month_close_it_once(fresh_db: str) -> None:
    """Alice's close of July (1.240 MWh, 1 certificate) is open when Bob closes July too:
    Bob waits and is told July is closed (`month_closed`), not a database error; the ledger
    has July's close once."""
    _setup(fresh_db)
    with psycopg.connect(fresh_db, autocommit=False) as first:
        first.execute("SELECT 1")  # Alice's transaction begins: the workflow's is nested
        close_month(first, "2026-07", ALICE, utc("2026-08-06T12:00"))
        error = _second_admin(
            fresh_db,
            lambda conn: close_month(conn, "2026-07", BOB, utc("2026-08-06T12:01")),
            first,
        )
    with psycopg.connect(fresh_db) as conn:
        ledger = [(r.month, r.entry, r.mwh, r.minted) for r in certification_store.ledger(conn)]
    assert isinstance(error, Refused)
    assert error.code == "month_closed"
    assert ledger == [("2026-07", "close", D("1.240"), 1)]


def test_two_admins_amending_one_month_credit_it_once(fresh_db: str) -> None:
    """July closed at 1.240 MWh. Alice amends it to 1,300,000 Wh (+0.060 booked) and, before
    she commits, Bob amends it to the same 1,300,000 Wh: Bob waits, then finds July already
    states it (`nothing_to_amend`); July is credited 1.300 (before: Bob booked +0.060 too,
    1.360 credited for a month stating 1.300 MWh)."""
    _setup(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        close_month(conn, "2026-07", ALICE, utc("2026-08-06T12:00"))
    with psycopg.connect(fresh_db, autocommit=False) as first:
        first.execute("SELECT 1")  # Alice's transaction begins: the workflow's is nested
        amend(first, ALICE, "S", "2026-07", 1_300_000, "audit", "a.pdf", utc("2026-08-07T12:00"))
        error = _second_admin(
            fresh_db,
            lambda conn: amend(
                conn, BOB, "S", "2026-07", 1_300_000, "audit", "b.pdf", utc("2026-08-07T12:01")
            ),
            first,
        )
    with psycopg.connect(fresh_db) as conn:
        credited = certification_store.credited_mwh(conn, "S", "2026-07")
    assert isinstance(error, Refused)
    assert error.code == "nothing_to_amend"
    assert credited == D("1.300")
