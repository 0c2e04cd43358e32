"""A system's capacity over time (certificates engineer, session 6; migration 021): every
bound of a month uses the capacity in force then, not today's. In the month of a change the
energy bound is prorated by the hours before and after it (docs/certification.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from certification.errors import Refused
from certification.roles import Account, Role
from certification.workflows.accept_month import accept_month
from certification.workflows.amend_month import amend
from certification.workflows.close_month import close_month
from certification.workflows.load_registry import load_registry
from schemas import Reading
from storage import certification_store
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import (
    midnight,
    reading,
    registry,
    system,
    utc,
)
from tests.integration.storage.test_service_roles import (  # the fixture by import
    login,  # noqa: F401 - a fixture, requested by name below
    on,
)

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)
D = Decimal


def _days(first: date, per_day: list[tuple[date, int]]) -> list[Reading]:
    """A reading at each local midnight from `first` (1,000,000 Wh), the register growing
    by the Wh of the latest (from, Wh a day) step at or before each day."""
    out, value, day = [reading("S", midnight(first), 1_000_000)], 1_000_000, first
    last = per_day[-1][0] + timedelta(days=40)
    while day < last:
        value += next(wh for since, wh in reversed(per_day) if since <= day)
        day += timedelta(days=1)
        out.append(reading("S", midnight(day), value))
    return out


def _capacities(conn: psycopg.Connection[Any]) -> list[tuple[date, Decimal]]:
    rows = conn.execute(
        "SELECT effective_from, capacity_kw_dc FROM system_capacities ORDER BY effective_from"
    ).fetchall()
    return [(r[0], Decimal(r[1])) for r in rows]


def test_an_expansion_does_not_let_a_past_implausible_month_mint(fresh_db: str) -> None:
    """S is 10 kW; July meters 100,000 Wh a day: 3,100,000 Wh, above 10 kW × 744 h × 0.30 =
    2,232,000 Wh, held (over_capacity). On Aug 10 S is re-registered at 20 kW. Accepting July
    as reported, or amending it to 3,100,000 Wh, is still refused at July's 10 kW (before the
    fix: at today's 20 kW, 4,464,000 Wh, July was accepted and minted 3 certificates).
    August (100,000 Wh a day to the 9th, 150,000 Wh a day from the 10th: 4,200,000 Wh) is
    bounded by (10 kW × 216 h + 20 kW × 528 h) × 0.30 = 3,816,000 Wh: held (at today's
    20 kW, 4,464,000 Wh, it minted 4 certificates)."""
    expanded = date(2026, 8, 10)
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(
            conn, _days(date(2026, 6, 30), [(date(2026, 6, 30), 100_000), (expanded, 150_000)])
        )
        july = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00")).systems[0]
        load_registry(
            conn, registry(system("S", "20", "automatic")), D(10), utc("2026-08-10T16:00")
        )
        with pytest.raises(Refused) as accepted:
            accept_month(conn, ADMIN, "S", "2026-07", "checked", utc("2026-08-11T12:00"))
        with pytest.raises(Refused) as amended:
            amend(
                conn, ADMIN, "S", "2026-07", 3_100_000, "as read", "p.jpg", utc("2026-08-11T13:00")
            )
        august = close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00")).systems[0]
        ledger = certification_store.ledger(conn)
        capacities = _capacities(conn)
    assert (july.energy_wh, july.held_by) == (3_100_000, ("over_capacity",))
    assert (accepted.value.code, amended.value.code) == (
        "accept_implausible",
        "amendment_implausible",
    )
    assert capacities == [(date(1900, 1, 1), D("10.000")), (expanded, D("20.000"))]
    assert (august.energy_wh, august.held_by, august.minted) == (
        4_200_000,
        ("over_capacity",),
        0,
    )
    assert [f.message for f in august.meters[0].findings] == [
        "4200000 Wh is above (10.000 kW × 216 h + 20.000 kW × 528 h) × 0.30 = 3816000 Wh"
    ]
    assert ledger == []


def test_a_reduction_holds_no_month_credited_before_it(fresh_db: str) -> None:
    """S is 20 kW; July meters 100,000 Wh a day: 3.100 MWh credited (3 certificates, carry
    0.100). On Aug 10 S is re-registered at 5 kW. August (100,000 Wh a day to the 9th, 25,000
    from the 10th: 1,450,000 Wh) is bounded by (20 kW × 216 h + 5 kW × 528 h) × 0.30 =
    2,088,000 Wh: credited 1.450 (before the fix: held at 5 kW × 744 h × 0.30 = 1,116,000).
    July amended down to 3,000,000 Wh after an audit is allowed at July's 20 kW (before:
    refused above 1,116,000 Wh). A load stating a time inside a closed month cannot move
    its bound: 6 kW loaded 'on Jul 20' takes effect on Sep 1."""
    reduced = date(2026, 8, 10)
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "20", "automatic")), D(10))
        write_readings(
            conn, _days(date(2026, 6, 30), [(date(2026, 6, 30), 100_000), (reduced, 25_000)])
        )
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        load_registry(conn, registry(system("S", "5", "automatic")), D(10), utc("2026-08-10T16:00"))
        august = close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00")).systems[0]
        amend(conn, ADMIN, "S", "2026-07", 3_000_000, "audit", "a.pdf", utc("2026-09-07T12:00"))
        load_registry(conn, registry(system("S", "6", "automatic")), D(10), utc("2026-07-20T12:00"))
        ledger = [
            (r.month, r.entry, r.mwh, r.minted, r.carry_out)
            for r in certification_store.ledger(conn)
        ]
        capacities = _capacities(conn)
    assert (august.energy_wh, august.held_by) == (1_450_000, ())
    assert ledger == [
        ("2026-07", "close", D("3.100"), 3, D("0.100")),
        ("2026-08", "close", D("1.450"), 1, D("0.550")),
        ("2026-07", "amendment:1", D("-0.100"), 0, D("0.450")),
    ]
    assert capacities == [
        (date(1900, 1, 1), D("20.000")),
        (reduced, D("5.000")),
        (date(2026, 9, 1), D("6.000")),
    ]


def test_the_close_records_the_power_limit_in_force(fresh_db: str) -> None:
    """August's close (the month S grew from 10 to 20 kW) stores its power limit at the
    largest capacity in force that month, 20 kW × 1.2, which later recounts use."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, _days(date(2026, 6, 30), [(date(2026, 6, 30), 40_000)]))
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"))
        load_registry(
            conn, registry(system("S", "20", "automatic")), D(10), utc("2026-08-10T16:00")
        )
        close_month(conn, "2026-08", ADMIN, utc("2026-09-06T12:00"))
        limits = [
            (r.month, r.meters[0]["power_limit"]) for r in certification_store.closes_of(conn, "S")
        ]
    assert limits == [("2026-07", ["10.000", "1.2"]), ("2026-08", ["20.000", "1.2"])]


@pytest.mark.parametrize("group", ["pts_web", "pts_certify"])
def test_the_service_logins_record_and_read_capacities(
    fresh_db: str,
    login: Callable[[str], str],  # noqa: F811 - the fixture imported above
    group: str,
) -> None:
    """The web's and certification's logins load a registry whose capacity changed (the
    trigger writes system_capacities as them) and close a month reading it."""
    url = on(fresh_db, login(group))
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), D(10))
        write_readings(conn, _days(date(2026, 6, 30), [(date(2026, 6, 30), 40_000)]))
    with psycopg.connect(url) as conn:
        load_registry(
            conn, registry(system("S", "12", "automatic")), D(10), utc("2026-07-20T16:00")
        )
        july = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00")).systems[0]
        capacities = _capacities(conn)
    assert capacities == [(date(1900, 1, 1), D("10.000")), (date(2026, 7, 20), D("12.000"))]
    assert (july.energy_wh, july.held_by, july.minted) == (1_240_000, (), 1)
