"""Registry facts are read: a register's modulus (declared, or from its digits) reaches the
readings of every source, so a rollover counts as one; a CT ratio scales a dial reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest

from certification.manual_reports import ManualReport
from certification.roles import Account, Role
from certification.workflows.close_month import close_month
from certification.workflows.load_registry import load_registry
from certification.workflows.record_audit import record_audit
from certification.workflows.submit_report import submit_manual_report
from schemas.reading import QualityFlag, Reading, Source
from schemas.registry import Meter
from storage import registry_store
from storage.energy_store import monthly_totals
from stream.inprocess import InProcessEngine
from tests.integration.certification.registry_docs import manual_registry
from tests.support import batch_bytes, register_fleet

pytestmark = pytest.mark.integration

NOW = datetime(2026, 4, 2, tzinfo=UTC)
NY = ZoneInfo("America/New_York")
JUL31 = datetime(2026, 7, 31, 20, tzinfo=NY)
ADMIN = Account("staff-1", Role.ADMIN)


async def test_das_rollover_counts_with_the_registry_modulus(fresh_db: str) -> None:
    """A DAS provider sends plain registers (no modulus); the registry says the meter wraps
    at 2^32 Wh. 4,294,960,000 Wh then 13,000 Wh an hour later is a 20,296 Wh rollover, stored
    with the modulus and counted in the month, not a reset."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["ROLL"])
    start = datetime(2026, 3, 10, 15, tzinfo=UTC)
    readings = [
        Reading(
            meter_id="ROLL",
            ts=start + timedelta(hours=h),
            energy_wh=wh,
            source=Source.DAS,
            source_id="das-a",
            seq=h,
            received_at=start + timedelta(hours=h),
        )
        for h, wh in enumerate([4_294_950_000, 4_294_960_000, 13_000, 33_000])
    ]
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as eng:
        await eng.submit(batch_bytes(readings))
    with psycopg.connect(fresh_db) as conn:
        stored = conn.execute(
            "SELECT energy_wh, register_modulus_wh FROM readings ORDER BY ts"
        ).fetchall()
        flags = conn.execute(
            "SELECT energy_wh, flags FROM meter_interval_energy ORDER BY interval_end"
        ).fetchall()
        totals = monthly_totals(conn)
    assert stored == [
        (4_294_950_000, 2**32),
        (4_294_960_000, 2**32),
        (13_000, 2**32),
        (33_000, 2**32),
    ]
    assert flags == [(10_000, []), (20_296, [QualityFlag.ROLLOVER.value]), (20_000, [])]
    assert totals[("ROLL", "2026-03")] == 50_296


def test_register_digits_give_the_stored_modulus(fresh_db: str) -> None:
    """A 5-digit kWh dial behind a 40:1 CT is stored wrapping at 100,000 kWh × 40."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["DIAL"])
        meter = registry_store.get_meter(conn, "DIAL")
        assert meter is not None
        dial = {**meter.model_dump(), "register_modulus_wh": None, "register_digits": 5}
        registry_store.upsert(conn, [Meter.model_validate({**dial, "ct_ratio": 40})])
        stored = conn.execute(
            "SELECT register_digits, ct_ratio, register_modulus_wh FROM meters"
        ).fetchall()
    assert stored == [(5, Decimal(40), 4_000_000_000)]


def test_manual_dial_rollover_through_report_and_close(fresh_db: str) -> None:
    """A 5-digit kWh dial reads 99,999 kWh on Jun 30 and 12 kWh on Jul 31 (20:00 EDT): the
    report is accepted as a 13,000 Wh rollover; July's rollup and its close both count
    740 of its 744 h: 13,000 − 69 (June's 4 h, floored) = 12,931 Wh."""
    registry = manual_registry({"register_digits": 5})
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry, Decimal(10))
        for wh, at in ((99_999_000, datetime(2026, 6, 30, 20, tzinfo=NY)), (12_000, JUL31)):
            submit_manual_report(conn, "rep-1", ManualReport("M1", wh, at), at, Decimal(10))
        closed = close_month(conn, "2026-07", ADMIN, datetime(2026, 8, 6, 5, tzinfo=UTC))
        intervals = conn.execute("SELECT energy_wh, flags FROM meter_interval_energy").fetchall()
        totals = monthly_totals(conn)
    (july,) = closed.systems
    assert intervals == [(13_000, [QualityFlag.ROLLOVER.value])]
    assert totals[("M1", "2026-07")] == 12_931
    assert july.energy_wh == 12_931
    # the wrap is neither a backwards step nor a register mismatch: nothing holds the month
    codes = [code for code, _ in july.findings]
    assert "backwards_register" not in codes
    assert "register_mismatch" not in codes
    assert july.minted == 0  # 0.013 MWh: carried, not held
    assert july.held_by == ()


def test_ct_ratio_scales_reports_and_audits_alike(fresh_db: str) -> None:
    """Behind a 40:1 CT the dial reads 25,000 and 56,000 Wh at the end of June and July:
    1,000,000 and 2,240,000 Wh primary. An audit reading 40,500 Wh on the dial at Jul 16 noon
    (a local time) is 1,620,000 Wh primary, within ±2% of the 1,626,666 Wh reported then."""
    registry = manual_registry({"ct_ratio": "40"})
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry, Decimal(10))
        for wh, at in ((25_000, datetime(2026, 6, 30, 20, tzinfo=NY)), (56_000, JUL31)):
            submit_manual_report(conn, "rep-1", ManualReport("M1", wh, at), at, Decimal(10))
        result = record_audit(
            conn,
            ADMIN,
            "M1",
            datetime(2026, 7, 16, 12),
            40_500,
            "photo-9.jpg",
            datetime(2026, 8, 10, tzinfo=UTC),
        )
        stored = conn.execute("SELECT energy_wh FROM readings ORDER BY ts").fetchall()
    assert stored == [(1_000_000,), (2_240_000,)]
    assert (result.audit.ts, result.audit.register_wh, result.reported_wh) == (
        datetime(2026, 7, 16, 16, tzinfo=UTC),
        1_620_000,
        1_626_666,
    )
    assert result.verdict.value == "consistent"
