"""NEPOOL GIS verifier upload: CSV lines `unitID,MM/YYYY,MWh` (up to 3 decimals), per quarter."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from certification.errors import Refused
from certification.window import window_for

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def quarter_months(quarter: str) -> list[str]:
    """'2026Q3' → ['2026-07', '2026-08', '2026-09']."""
    match = _QUARTER.match(quarter)
    if not match:
        raise Refused("bad_quarter", f"{quarter!r} is not a quarter like 2026Q3")
    year, q = int(match[1]), int(match[2])
    return [f"{year}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]


def exportable_from(quarter: str, timezone: str) -> datetime:
    """A quarter is reported one quarter behind: once the reporting window of its last month
    has closed (2026Q3 → 2026-10-06 00:00 local)."""
    _, closes = window_for(quarter_months(quarter)[-1], timezone)
    return closes


def require_exportable(quarter: str, now: datetime, timezone: str) -> None:
    ready = exportable_from(quarter, timezone)
    if now < ready:
        raise Refused(
            "quarter_not_over",
            f"{quarter} is exported one quarter behind, from {ready.isoformat()} "
            "(after its last month's reporting window)",
        )


@dataclass(frozen=True, slots=True)
class ExportLine:
    unit_id: str
    month: str  # YYYY-MM
    mwh: Decimal

    def csv(self) -> str:
        year, month = self.month.split("-")
        return f"{self.unit_id},{month}/{year},{self.mwh:.3f}"


def render(lines: Iterable[ExportLine]) -> str:
    """The upload file: one line per unit and month, sorted, newline-terminated."""
    ordered = sorted(lines, key=lambda line: (line.unit_id, line.month))
    return "".join(line.csv() + "\n" for line in ordered)
