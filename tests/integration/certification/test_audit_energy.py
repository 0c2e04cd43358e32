"""A site audit counts the reported production with the same meter-month energy function as
the stream and month close: the system's power limit decides whether a step back is a wrap."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg
import pytest

from certification.roles import Account, Role
from certification.workflows.load_registry import load_registry
from certification.workflows.record_audit import record_audit
from schemas import Reading, Source
from storage.writer import write_readings
from tests.integration.certification.test_amend_estimates import NY, registry, system, utc

pytestmark = pytest.mark.integration

ADMIN = Account("staff-1", Role.ADMIN)


def reading(ts: datetime, wh: int) -> Reading:
    return Reading(
        meter_id="M-S",
        ts=ts,
        energy_wh=wh,
        source=Source.DAS,
        source_id="das-a",
        seq=int(ts.timestamp()),
        received_at=ts,
        register_modulus_wh=100_000_000,  # a 5-digit kWh register
    )


def test_an_audit_is_not_hidden_by_an_implausible_wrap(fresh_db: str) -> None:
    """A 10 kW meter with a 5-digit kWh register (wraps at 100,000,000 Wh) falls from
    90,000,000 to 30,000,000 Wh 40 s after Jul 1 00:00 (a corrupted restore), then makes
    40,000 Wh a day. Read as a wrap (40,000,000 Wh in 40 s) the audit's 60,000 Wh deviation
    would be 0.15% of the production, within ±1%; with the power limit the step counts 0:
    60,000 Wh produced to Jul 2 12:00, deviation 100.00%, a mismatch."""
    points = [
        (datetime(2026, 7, 1, tzinfo=NY), 90_000_000),
        (datetime(2026, 7, 1, 0, 0, 40, tzinfo=NY), 30_000_000),
        (datetime(2026, 7, 2, tzinfo=NY), 30_040_000),
        (datetime(2026, 7, 3, tzinfo=NY), 30_080_000),
    ]
    with psycopg.connect(fresh_db) as conn:
        load_registry(conn, registry(system("S", "10", "automatic")), Decimal(10))
        write_readings(conn, [reading(ts, wh) for ts, wh in points])
        result = record_audit(
            conn, ADMIN, "M-S", datetime(2026, 7, 2, 12), 30_000_000, "photo.jpg",
            utc("2026-07-03T12:00"),
        )  # fmt: skip
    assert (
        result.verdict.value,
        result.reported_wh,
        result.deviation_wh,
        result.produced_wh,
        result.deviation_pct,
    ) == ("mismatch", 30_060_000, -60_000, 60_000, Decimal("100.00"))
