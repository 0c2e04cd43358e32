"""The manual report form's fields as a homeowner types them → a ManualReport (pure).

The register is typed in kWh as the meter shows it ("12,345.6"); it becomes integer Wh
exactly (Decimal, never float), at most 3 decimals (a Wh). The reading's local date and time
(noon when the time is left out) become an aware time in the system's zone.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from certification.errors import Refused
from certification.manual_reports import ManualReport

MAX_KWH = Decimal(10) ** 9  # a billion kWh: far above any register a homeowner reads


def register_wh(text: str) -> int:
    """'12,345.6' → 12_345_600; refuses non-numbers, negatives, sub-Wh digits, huge values."""
    cleaned = text.replace(",", "").replace(" ", "").strip()
    try:
        kwh = Decimal(cleaned)
    except InvalidOperation as exc:
        raise Refused(
            "bad_number",
            f"{text!r} is not a number of kWh; type it as the meter shows it, for example 12345.6",
        ) from exc
    if not kwh.is_finite() or kwh < 0 or kwh >= MAX_KWH:
        raise Refused("bad_number", "the register reading must be a positive number of kWh")
    wh = kwh * 1000
    if wh != wh.to_integral_value():
        raise Refused("bad_number", "type the reading with at most 3 decimals (kWh)")
    return int(wh)


def parse_report(
    meter_id: str, register_kwh: str, read_on: str, read_time: str, timezone: str
) -> ManualReport:
    try:
        day = datetime.strptime(read_on.strip(), "%Y-%m-%d").date()
        clock = datetime.strptime(read_time.strip() or "12:00", "%H:%M").time()
    except ValueError as exc:
        raise Refused(
            "bad_date", "enter the date as YYYY-MM-DD and the time as HH:MM (or leave it out)"
        ) from exc
    read_at = datetime.combine(day, clock, tzinfo=ZoneInfo(timezone))
    return ManualReport(meter_id.strip(), register_wh(register_kwh), read_at)
