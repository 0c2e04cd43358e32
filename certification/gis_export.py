"""NEPOOL GIS verifier upload: CSV lines `unitID,MM/YYYY,MWh` (up to 3 decimals), per quarter;
which system-months an export carries (`pending_lines`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from certification.amendments import Amendment, stated_wh
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


@dataclass(frozen=True, slots=True)
class MonthStatement:
    """A closed system-month as an export sees it."""

    system_id: str
    unit_id: str | None  # None: not exportable (no GIS unit, or REC terms not accepted)
    month: str
    certified_wh: int  # the metered energy as closed
    estimated: bool
    held: bool  # held by a finding and not released
    amendments: tuple[Amendment, ...] = ()
    gis_unit_id: str | None = None  # the system's unit, REC terms accepted or not
    # what the SREC ledger has credited the month (None: never credited, e.g. closed before
    # the REC terms were accepted); a month goes out only with what the ledger credited
    credited_mwh: Decimal | None = None

    @property
    def stated_wh(self) -> int | None:
        """What the month states for export (its latest amendment, else the metered energy
        as closed), or None when it may not be exported (yet)."""
        if self.unit_id is None or self.held:
            return None
        if not self.amendments and self.estimated and self.certified_wh == 0:
            return None  # a whole-month estimate is never exported
        return stated_wh(self.certified_wh, self.amendments)


@dataclass(frozen=True, slots=True)
class PendingLine:
    system_id: str
    line: ExportLine
    amendment_ids: tuple[int, ...]  # the amendments this line carries


def pending_lines(
    statements: Iterable[MonthStatement], sent: Mapping[tuple[str, str], Decimal]
) -> list[PendingLine]:
    """What the next export carries: for each exportable month the SREC ledger has credited,
    the MWh it credited the first time, then the difference from what earlier exports `sent`
    (nothing when equal); a month never credited (closed before the REC terms were accepted,
    not amended since) is not sent, so GIS and the ledger agree; for a held month that went
    out, minus what was sent (a retraction). Amendments of a month are carried by the line
    that sends them (or are settled when the month already states what was sent)."""
    out = []
    for s in statements:
        stated = s.stated_wh
        before = sent.get((s.system_id, s.month))
        unit = s.unit_id or s.gis_unit_id
        if s.held and unit is not None and before:
            # held after it went out (late readings, an audit): its credit was taken back,
            # so what NEPOOL GIS holds for it is retracted until an amendment states it
            # (REC terms withdrawn since or not: it went out under this unit)
            out.append(PendingLine(s.system_id, ExportLine(unit, s.month, -before), ()))
            continue
        if stated is None or s.unit_id is None or s.credited_mwh is None:
            continue  # not exportable, or never credited: GIS never gets what PTS never minted
        mwh = s.credited_mwh - (before or Decimal(0))
        if before is not None and mwh == 0:
            continue
        carried = tuple(a.amendment_id for a in s.amendments if a.exported_in is None)
        out.append(PendingLine(s.system_id, ExportLine(s.unit_id, s.month, mwh), carried))
    return out
