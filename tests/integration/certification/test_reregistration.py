"""Re-registration (certificates engineer's hunt, session 5): a meter whose energy a close
certified for one system cannot be moved to another system by a registry load; the other
system's close of the same months would count (and mint) the same readings again."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import psycopg
import pytest

from certification.errors import Refused
from certification.roles import Account, Role
from certification.workflows.close_month import close_month
from certification.workflows.load_registry import load_registry
from storage import certification_store, registry_store
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import (
    NY,
    daily,
    meter,
    reading,
    registry,
    system,
    utc,
)

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)


def test_a_certified_meter_cannot_move_to_another_system(fresh_db: str) -> None:
    """S's July closed with M-S (1.240 MWh, 1 certificate). A document registering S2 with
    M-S (meter row re-pointed to S2) is refused as a whole: M-S stays S's, S2 is not
    stored, and no close of S2 can mint July's 1.240 MWh a second time. A meter no close
    counted yet (M-T) moves freely."""
    with psycopg.connect(fresh_db) as conn:
        load_registry(
            conn, registry(system("S", "10", "automatic"), system("T", "10", "automatic")),
            Decimal(10),
        )  # fmt: skip
        write_readings(conn, daily("S", date(2026, 6, 30), date(2026, 8, 2), 40_000))
        close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00"), system_id="S")
        moved = registry(system("S2", "10", "automatic"))
        moved["meters"] = [{**meter("S"), "system_id": "S2"}]
        with pytest.raises(Refused) as caught:
            load_registry(conn, moved, Decimal(10))
        free = registry(system("T2", "10", "automatic"))
        free["meters"] = [{**meter("T"), "system_id": "T2"}]
        load_registry(conn, free, Decimal(10))
        owners = {m: registry_store.get_meter(conn, m).system_id for m in ("M-S", "M-T")}  # type: ignore[union-attr]
        systems = sorted(s.system_id for s in registry_store.list_systems(conn))
        minted = sum(r.minted for r in certification_store.ledger(conn))
    assert caught.value.code == "registry_refused"
    assert caught.value.message == (
        "meter M-S: its energy was certified for system S (closed through 2026-07); a meter "
        "cannot move to S2, whose closes would count the same readings again: register "
        "S2's meter under its own id"
    )
    assert owners == {"M-S": "S", "M-T": "T2"}
    assert systems == ["S", "T", "T2"]
    assert minted == 1


def test_a_system_whose_meters_together_exceed_its_capacity_is_held(fresh_db: str) -> None:
    """TW (10 kW DC) has two meters, each 40,000 Wh a day: each meter's July (1,240,000 Wh)
    is under 10 kW × 744 h × 0.30 = 2,232,000 Wh, but the system's 2,480,000 Wh is not: the
    system-month is held by over_capacity and mints nothing (it minted 2 before)."""
    document = registry(system("TW", "10", "automatic"))
    document["meters"] = [
        {**document["meters"][0], "meter_id": "TW-A"},
        {**document["meters"][0], "meter_id": "TW-B", "serial": "SN-TW-B"},
    ]
    readings = [
        r.model_copy(update={"meter_id": meter_id})
        for meter_id in ("TW-A", "TW-B")
        for r in daily("TW", date(2026, 6, 30), date(2026, 8, 2), 40_000)
    ]
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, document, Decimal(10))
        write_readings(conn, readings)
        (july,) = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00")).systems
        ledger = certification_store.ledger(conn)
    assert (july.energy_wh, july.held_by, july.minted) == (2_480_000, ("over_capacity",), 0)
    assert july.findings == [
        (
            "over_capacity",
            "the system's meters together: 2480000 Wh is above 10 kW × 744 h × 0.30 = 2232000 Wh",
        )
    ]
    assert ledger == []


def test_a_switch_from_manual_to_automatic_within_a_month(fresh_db: str) -> None:
    """S reports manually (1,000,000 Wh on Jun 30 at noon) and becomes automatic in July; its
    DAS reads the register daily from Jul 15 00:00 (1,580,000 Wh, then 40,000 Wh a day). July
    closes by the rules of the method it has at its close (automatic): the 14.5-day interval
    is split at Jul 1 00:00 (560,000 Wh of 580,000), 680,000 Wh follow: 1,240,000 Wh, metered
    across the switch (advisory gap and estimated_boundary: an apportioned share, not an
    estimate of energy), minted: 1 certificate."""
    manual = registry(system("S", "10", "manual"))
    first = reading("S", datetime(2026, 6, 30, 12, tzinfo=NY), 1_000_000)
    das = [
        r.model_copy(update={"energy_wh": r.energy_wh + 580_000})
        for r in daily("S", date(2026, 7, 15), date(2026, 8, 2), 40_000)
    ]
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, manual, Decimal(10))
        write_readings(conn, [first])
        load_registry(conn, registry(system("S", "10", "automatic")), Decimal(10))
        write_readings(conn, das)
        (july,) = close_month(conn, "2026-07", ADMIN, utc("2026-08-06T12:00")).systems
    assert das[0].energy_wh == 1_580_000
    assert (july.energy_wh, july.certified_wh, july.held_by, july.minted) == (
        1_240_000,
        1_240_000,
        (),
        1,
    )
    assert [code for code, _ in july.findings] == ["estimated_boundary", "gap"]
