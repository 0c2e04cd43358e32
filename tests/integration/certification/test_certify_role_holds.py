"""Holds after close on the certification login (pts_certify, migration 015's least
privilege): a late reading noticed by the next close and a mismatching site audit recorded
after close both hold their month there, not only on the owner's login (017 granted the
table but not its id sequence; 018 grants both tables' sequences)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import psycopg
import pytest

from certification.roles import Account, Role
from certification.workflows.close_month import close_month
from certification.workflows.load_registry import load_registry
from certification.workflows.record_audit import record_audit
from storage import certification_store
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import (
    NY,
    daily,
    reading,
    registry,
    system,
    utc,
)
from tests.integration.storage.test_service_roles import Login, login, on

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)
__all__ = ["login"]  # the fixture


def test_the_certify_login_holds_closed_months(fresh_db: str, login: Login) -> None:
    """S's July is held after its close by a late reading (noticed by August's close), T's
    July by an audit recorded on Aug 10 (1,300,000 Wh read where 1,640,000 were reported),
    both on the certify login; each July's 1.240 MWh is taken back."""
    url = on(fresh_db, login("pts_certify"))
    with psycopg.connect(fresh_db) as owner:
        load_registry(
            owner,
            registry(system("S", "10", "automatic"), system("T", "10", "automatic")),
            Decimal(10),
        )
        for s in ("S", "T"):
            write_readings(owner, daily(s, date(2026, 6, 30), date(2026, 9, 2), 40_000))
    with psycopg.connect(url) as conn:
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
    with psycopg.connect(fresh_db) as owner:
        write_readings(owner, [reading("S", datetime(2026, 7, 16, 12, tzinfo=NY), 1_060_000)])
    with psycopg.connect(url) as conn:
        audit = record_audit(
            conn, ADMIN, "M-T", datetime(2026, 7, 16), 1_300_000, "photo.jpg",
            utc("2026-08-10T12:00"),
        )  # fmt: skip
        close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        holds = {
            s: [(h.month, h.code) for h in certification_store.holds_after_close(conn, s)]
            for s in ("S", "T")
        }
        takebacks = [
            (r.system_id, r.entry, r.mwh) for r in certification_store.ledger(conn) if r.mwh < 0
        ]
    assert audit.verdict.value == "mismatch"
    assert holds == {"S": [("2026-07", "late_readings")], "T": [("2026-07", "audit_mismatch")]}
    assert takebacks == [
        ("S", "late:2026-08", Decimal("-1.240")),
        ("T", "audit:1", Decimal("-1.240")),
    ]
