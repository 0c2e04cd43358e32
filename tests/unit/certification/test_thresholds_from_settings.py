"""Month close thresholds are built from the settings in one place, for every caller (the
CLI, the web service)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from certification.month_close import Thresholds
from pts.settings import Settings
from schemas.findings import HOLDING_FINDINGS


def test_thresholds_come_from_the_settings() -> None:
    """Each month-close setting reaches its threshold; a command's override wins."""
    settings = Settings(
        erratic_max_capacity_factor=0.25,
        stream_power_tolerance=Decimal("1.5"),
        month_close_holding_findings=frozenset({"over_capacity", "gap"}),
        month_close_max_interpolation_h=2.5,
    )
    built = Thresholds.from_settings(settings)
    overridden = Thresholds.from_settings(settings, max_capacity_factor=Decimal("0.4"))
    assert built == Thresholds(
        max_capacity_factor=Decimal("0.25"),
        power_tolerance=Decimal("1.5"),
        holding=HOLDING_FINDINGS | {"gap"},  # the defaults always hold
        max_interpolation=timedelta(hours=2.5),
    )
    assert overridden == Thresholds(
        max_capacity_factor=Decimal("0.4"),
        power_tolerance=Decimal("1.5"),
        holding=HOLDING_FINDINGS | {"gap"},  # the defaults always hold
        max_interpolation=timedelta(hours=2.5),
    )
