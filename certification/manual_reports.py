"""Manual monthly reports: a System Representative types the cumulative register reading."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from certification.errors import Refused
from certification.registry_rules import check_reporting_method
from certification.roles import Account, require_submit
from certification.window import in_zone, month_reported_at, require_open_window, window_for
from schemas.reading import Reading, ReadingEvent, Source
from schemas.registry import DasProvider, Meter, ReportingMethod, System

# a reading given as a date alone was taken at noon, local time
READ_AT_NOON = time(12)
# reading times taken at all (the stream's earliest reading by default; far future: a typo)
EARLIEST_READ_AT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_READ_AT = datetime(9000, 1, 1, tzinfo=UTC)
MAX_ENERGY_WH = 2**63 - 1  # PostgreSQL bigint: what a stored reading holds


@dataclass(frozen=True, slots=True)
class ManualReport:
    meter_id: str
    register_wh: int
    # reading date and time: aware, or naive = local time in the system's zone (see read_at)
    read_at: datetime
    photo_ref: str | None = None
    meter_replacement: bool = False
    # on a replacement: the old meter's final register, read when it came off
    old_register_wh: int | None = None


def parse_read_at(text: str) -> datetime:
    """A reading time as typed: a date (noon local), a local date and time (naive: read in
    the system's zone by `localized`), or a date and time with its UTC offset."""
    try:
        return datetime.combine(date.fromisoformat(text), READ_AT_NOON)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise Refused(
            "bad_reading_time",
            f"{text!r} is not a reading time: give a date (2027-01-05, read as noon in the "
            "system's time zone), a local date and time (2027-01-05T09:30) or a time with its "
            "offset (2027-01-05T09:30-05:00)",
        ) from None


def localized(report: ManualReport, timezone: str) -> ManualReport:
    """The report with an aware reading time: a naive one is local time in `timezone`.
    A time outside 2000..8999 is refused (bad_reading_time) before any arithmetic on it:
    year 1 or 9999 with an offset is beyond what a datetime holds in UTC."""
    if report.read_at.tzinfo is None:
        report = replace(report, read_at=in_zone(report.read_at, timezone))
    try:
        plausible = EARLIEST_READ_AT <= report.read_at < LATEST_READ_AT
    except OverflowError:
        plausible = False
    if not plausible:
        raise Refused(
            "bad_reading_time",
            f"{report.read_at.replace(tzinfo=None).isoformat()} is not a reading time PTS "
            f"takes: give the time the register was read (from {EARLIEST_READ_AT.year} on)",
        )
    return report


def filed_month(read_at: datetime, timezone: str) -> str:
    """The reporting month a reading is filed under: the month whose window it was taken in
    (a reading of Nov 3 inside October's window is October's), else its own local month."""
    month = month_reported_at(read_at, timezone)
    return month or read_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


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
    report = localized(report, system.timezone)
    require_submit(account, system, provider)
    if system.reporting_method is ReportingMethod.AUTOMATIC:
        raise Refused(
            "reports_automatically",
            f"system {system.system_id} reports through DAS provider {system.das_provider_id}; "
            "manual reports are for manually reporting systems",
        )
    check_reporting_method(system, manual_max_kw_dc, provider)
    month = require_open_window(now, system.timezone)
    opens, closes = window_for(month, system.timezone)
    local = ZoneInfo(system.timezone)
    if not opens <= report.read_at < closes:
        raise Refused(
            "reading_outside_window",
            f"the reading must be taken inside the {month} window ({opens.isoformat()} to "
            f"{closes.isoformat()}); {report.read_at.astimezone(local).isoformat()} is not",
        )
    if meter.system_id != system.system_id:
        raise Refused("meter_not_on_system", f"meter {meter.meter_id} is not on {system.system_id}")
    if report.read_at > now:
        raise Refused(
            "reading_in_future",
            f"reading time {report.read_at.astimezone(local).isoformat()} is after now "
            f"({now.astimezone(local).isoformat()}); give the time the register was read",
        )
    energy_wh = _primary(meter, report.register_wh)
    if last is not None and not report.meter_replacement:
        _check_progress(system, last, energy_wh, report.read_at, meter.register_modulus_wh)
    if last is not None and report.meter_replacement and report.old_register_wh is not None:
        old_wh = _primary(meter, report.old_register_wh)
        _check_progress(system, last, old_wh, report.read_at, meter.register_modulus_wh)
    return Reading(
        meter_id=meter.meter_id,
        ts=report.read_at,
        energy_wh=energy_wh,
        register_modulus_wh=meter.register_modulus_wh,
        source=Source.MANUAL,
        source_id=account.account_id,
        seq=seq,
        received_at=now,
        event=ReadingEvent.OPENING if report.meter_replacement else None,
    )


def closing_reading(
    account: Account, meter: Meter, report: ManualReport, now: datetime, seq: int = 0
) -> Reading | None:
    """On a meter replacement with the old meter's final register: its CLOSING reading, one
    second before the new meter's OPENING one (the energy up to the swap is counted)."""
    if not report.meter_replacement or report.old_register_wh is None:
        return None
    return Reading(
        meter_id=meter.meter_id,
        ts=report.read_at - timedelta(seconds=1),
        energy_wh=_primary(meter, report.old_register_wh),
        register_modulus_wh=meter.register_modulus_wh,
        source=Source.MANUAL,
        source_id=account.account_id,
        seq=seq,
        received_at=now,
        event=ReadingEvent.CLOSING,
    )


def _primary(meter: Meter, register_wh: int) -> int:
    """The primary energy of a register as read (× the CT ratio), refused when the register
    cannot show it (at or above its modulus)."""
    energy_wh = meter.primary_wh(register_wh)
    if energy_wh > MAX_ENERGY_WH:
        raise Refused(
            "register_too_large",
            f"{register_wh} Wh is more than any register holds (at most {MAX_ENERGY_WH} Wh "
            "after the CT ratio); check the reading and the unit (Wh)",
        )
    modulus = meter.register_modulus_wh
    if modulus is not None and energy_wh >= modulus:
        raise Refused(
            "register_beyond_digits",
            f"{register_wh} Wh is more than meter {meter.meter_id}'s register can show (it wraps "
            f"at {modulus} Wh); check the reading and the unit (Wh)",
        )
    return energy_wh


def _check_progress(
    system: System, last: Reading, register_wh: int, at: datetime, modulus: int | None = None
) -> None:
    """Not before the last reading, and not more than full output since it. A register
    below the last one is a rollover when its modulus is known and the forward difference
    across the wrap fits full output; otherwise it went backwards."""
    if at <= last.ts:
        local = ZoneInfo(system.timezone)
        raise Refused(
            "not_after_last_reading",
            f"a reading at {at.astimezone(local).isoformat()} is not after the last one "
            f"({last.ts.astimezone(local).isoformat()}); give the time the register was read",
        )
    hours = Decimal((at - last.ts).total_seconds()) / 3600
    most = system.capacity_kw_dc * 1000 * hours
    forward = register_wh - last.energy_wh
    wrapped = forward < 0 and modulus is not None and last.energy_wh < modulus
    if wrapped:
        assert modulus is not None
        forward += modulus
    if forward < 0 or (wrapped and forward > most):
        raise Refused(
            "register_went_backwards",
            f"{register_wh} Wh is lower than the last reading {last.energy_wh} Wh"
            + (
                f" and a rollover at {modulus} Wh would mean {forward} Wh in {hours:.1f} h, "
                f"more than {system.capacity_kw_dc} kW DC can produce"
                if wrapped
                else ""
            )
            + "; if the meter was replaced, mark the report as a meter replacement",
        )
    if forward > most:
        raise Refused(
            "implausible_for_capacity",
            f"{forward} Wh in {hours:.1f} h exceeds what "
            f"{system.capacity_kw_dc} kW DC can produce at full output ({most:.0f} Wh)",
        )
