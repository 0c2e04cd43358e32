"""Registry rules: which accuracy a meter needs, and who may report manually."""

from __future__ import annotations

from decimal import Decimal

from certification.errors import Refused
from schemas.registry import AccuracyClass, DasProvider, Meter, ReportingMethod, System

TIERS = ((Decimal(10), Decimal("2.0")), (Decimal(1000), Decimal("1.0")))


def required_accuracy(capacity_kw_dc: Decimal, reporting: ReportingMethod) -> Decimal:
    """±% a meter must meet: 2% ≤10 kW, 1% to 1 MW, 0.5% above; a DAS-read meter ±1% at least."""
    needed = Decimal("0.5")
    for limit, pct in TIERS:
        if capacity_kw_dc <= limit:
            needed = pct
            break
    if reporting is ReportingMethod.AUTOMATIC:
        needed = min(needed, Decimal("1.0"))
    return needed


def check_meter(system: System, meter: Meter, approved_models: dict[str, AccuracyClass]) -> None:
    """A meter must be of an approved model, its register facts must agree (digits and
    modulus), and it must meet the system's tier both by the class its model is approved at
    and by the class its row declares (the worse of the two counts)."""
    if meter.model not in approved_models:
        raise Refused(
            "meter_not_approved",
            f"meter model {meter.model!r} is not on the approved list; inverter displays do not "
            "count as revenue meters",
        )
    derived = meter.digits_modulus_wh
    if derived is not None and meter.register_modulus_wh != derived:
        raise Refused(
            "register_facts_disagree",
            f"meter {meter.meter_id}: a {meter.register_digits}-digit kWh register behind a CT "
            f"of {meter.ct_ratio.normalize():f} wraps at {derived} Wh, not at the "
            f"register_modulus_wh {meter.register_modulus_wh} given; give one of the two, or "
            "both agreeing",
        )
    needed = required_accuracy(system.capacity_kw_dc, system.reporting_method)
    approved = approved_models[meter.model].percent
    declared = meter.accuracy_class.percent
    if max(approved, declared) <= needed:
        return
    stated = (
        f"{meter.model} is approved at ±{approved}% (its meter row declares ±{declared}%)"
        if approved > declared
        else f"{meter.model} is ±{declared}%"
    )
    raise Refused(
        "meter_accuracy_too_low",
        f"a {system.capacity_kw_dc} kW DC system needs a ±{needed}% meter; {stated}; install "
        f"a meter of an approved model of ±{needed}% or better",
    )


def check_reporting_method(
    system: System, manual_max_kw_dc: Decimal, provider: DasProvider | None
) -> None:
    if system.reporting_method is ReportingMethod.MANUAL:
        if system.capacity_kw_dc > manual_max_kw_dc:
            raise Refused(
                "must_report_automatically",
                f"systems above {manual_max_kw_dc} kW DC must report through a DAS provider "
                f"({system.system_id} is {system.capacity_kw_dc} kW DC)",
            )
        return
    if provider is None or not provider.approved:
        raise Refused(
            "provider_not_approved",
            f"system {system.system_id} reports automatically through "
            f"{system.das_provider_id!r}, which is not an approved DAS provider",
        )
