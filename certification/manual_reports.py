"""Manual monthly reports: a System Representative types the cumulative register reading."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from certification.errors import Refused
from certification.registry_rules import check_reporting_method
from certification.roles import Account, require_submit
from certification.window import require_open_window
from schemas.reading import Reading, ReadingEvent, Source
from schemas.registry import DasProvider, Meter, System


@dataclass(frozen=True, slots=True)
class ManualReport:
    meter_id: str
    register_wh: int
    read_at: datetime  # reading date and time (aware; time optional → the caller uses noon)
    photo_ref: str | None = None
    meter_replacement: bool = False


def accept(
    account: Account,
    system: System,
    meter: Meter,
    report: ManualReport,
    last: Reading | None,
    now: datetime,
    manual_max_kw_dc: Decimal,
    provider: DasProvider | None = None,
    seq: int = 0,
) -> Reading:
    """The reading to store for a manual report, or a refusal that says why."""
    require_submit(account, system, provider)
    check_reporting_method(system, manual_max_kw_dc, provider)
    require_open_window(now, system.timezone)
    if meter.system_id != system.system_id:
        raise Refused("meter_not_on_system", f"meter {meter.meter_id} is not on {system.system_id}")
    if report.read_at > now:
        raise Refused("reading_in_future", f"reading time {report.read_at} is after now ({now})")
    if last is not None and not report.meter_replacement:
        if report.read_at <= last.ts:
            raise Refused(
                "not_after_last_reading",
                f"a reading at {report.read_at} is not after the last one ({last.ts})",
            )
        if report.register_wh < last.energy_wh:
            raise Refused(
                "register_went_backwards",
                f"{report.register_wh} Wh is lower than the last reading {last.energy_wh} Wh; "
                "if the meter was replaced, mark the report as a meter replacement",
            )
        hours = Decimal((report.read_at - last.ts).total_seconds()) / 3600
        most = system.capacity_kw_dc * 1000 * hours
        if report.register_wh - last.energy_wh > most:
            raise Refused(
                "implausible_for_capacity",
                f"{report.register_wh - last.energy_wh} Wh in {hours:.1f} h exceeds what "
                f"{system.capacity_kw_dc} kW DC can produce at full output ({most:.0f} Wh)",
            )
    return Reading(
        meter_id=meter.meter_id,
        ts=report.read_at,
        energy_wh=report.register_wh,
        source=Source.MANUAL,
        source_id=account.account_id,
        seq=seq,
        received_at=now,
        event=ReadingEvent.OPENING if report.meter_replacement else None,
    )
