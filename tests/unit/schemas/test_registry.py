"""Registry records refuse what cannot be right, and say why."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas import AccuracyClass, Meter, ReportingMethod, System


def test_automatic_system_needs_a_provider() -> None:
    """A system reported automatically must name its DAS provider."""
    with pytest.raises(ValidationError) as caught:
        System(system_id="S1", owner_id="o1", capacity_kw_dc=Decimal("12.5"))
    assert "das_provider_id" in str(caught.value)


def test_unknown_time_zone_refused() -> None:
    """Months are local: an unknown zone is refused with an example of a good one."""
    with pytest.raises(ValidationError) as caught:
        System(
            system_id="S1",
            owner_id="o1",
            capacity_kw_dc=Decimal("5"),
            reporting_method=ReportingMethod.MANUAL,
            timezone="Mars/Olympus",
        )
    assert "America/New_York" in str(caught.value)


def test_rec_owner_defaults_to_owner() -> None:
    """The REC Owner starts as the System Owner."""
    system = System(
        system_id="S1",
        owner_id="o1",
        capacity_kw_dc=Decimal("5"),
        reporting_method=ReportingMethod.MANUAL,
    )
    assert system.effective_rec_owner_id == "o1"


def test_meter_removed_before_installed_refused() -> None:
    """A meter cannot be removed before it was installed."""
    with pytest.raises(ValidationError) as caught:
        Meter(
            meter_id="M1",
            system_id="S1",
            serial="X",
            model="Y",
            accuracy_class=AccuracyClass.PCT_1,
            installed_on=date(2026, 5, 1),
            removed_on=date(2026, 4, 1),
        )
    assert "before installed_on" in str(caught.value)
