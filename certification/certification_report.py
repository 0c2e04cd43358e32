"""The certification report, pure: every certificate traced back to the meter readings it came
from, with every amendment shown where it applies.

Certificates are numbered per system in minting order (`<unit>-000001`, …): ledger entry k
mints the serials after those of entries 1…k−1. Each entry names the month, the month's
energy and the readings that bound it per meter (first and last register point used), the
MWh, factor, carry in, certificates and carry out; each amendment prints who, when, why,
the evidence and before/after. A held month says what holds it until it is released; a
release (accepted as reported, or by an amendment) prints who, when and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from certification.amendments import Amendment


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    system_id: str
    month: str
    entry: str  # "close" or "amendment:<id>"
    mwh: Decimal
    factor: Decimal
    carry_in: Decimal
    minted: int
    carry_out: Decimal
    rec_owner_id: str | None = None  # whose certificates (the month's REC Owner)


@dataclass(frozen=True, slots=True)
class MeterTrace:
    meter_id: str
    energy_wh: int
    readings: int
    estimated: bool
    first: tuple[datetime, int] | None
    last: tuple[datetime, int] | None


@dataclass(frozen=True, slots=True)
class ClosedMonth:
    system_id: str
    month: str
    energy_wh: int
    estimated: bool
    meters: tuple[MeterTrace, ...]
    held_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReleaseTrace:
    """The staff decision that released a held month."""

    month: str
    kind: str  # accepted_as_reported | amended
    energy_wh: int
    reason: str
    released_by: str
    released_at: datetime


@dataclass(frozen=True, slots=True)
class CertificateRange:
    entry: LedgerEntry
    first_serial: int | None  # None when the entry minted nothing
    last_serial: int | None


def certificate_ranges(entries: Sequence[LedgerEntry]) -> list[CertificateRange]:
    """Serial ranges per ledger entry of one system, in ledger order."""
    issued = 0
    out = []
    for entry in entries:
        if entry.minted > 0:
            out.append(CertificateRange(entry, issued + 1, issued + entry.minted))
            issued += entry.minted
        else:
            out.append(CertificateRange(entry, None, None))
    return out


def plain_decimal(value: Decimal) -> str:
    """A Decimal without trailing zeros (0.5504000 → 0.5504), never in exponent form."""
    return f"{value.normalize():f}" if value else "0"


def _point(point: tuple[datetime, int] | None, tz: ZoneInfo) -> str:
    return "-" if point is None else f"{point[1]} Wh @ {point[0].astimezone(tz).isoformat()}"


def render(
    system_id: str,
    unit: str,
    closes: Sequence[ClosedMonth],
    amendments: Sequence[Amendment],
    entries: Sequence[LedgerEntry],
    timezone: str = "UTC",
    releases: Sequence[ReleaseTrace] = (),
    held_after_close: Sequence[tuple[str, str, str]] = (),
) -> str:
    """The report of one system as text lines, times in `timezone` (the system's)."""
    tz = ZoneInfo(timezone)
    by_month = {c.month: c for c in closes}
    released = {r.month: r for r in releases}
    lines = [f"system {system_id} (unit {unit})"]
    # after a REC Owner change each entry names whose certificates it mints or takes back
    owners = len({e.rec_owner_id for e in entries}) > 1
    for certs in certificate_ranges(entries):
        e = certs.entry
        serials = (
            "no certificate"
            if certs.first_serial is None
            else f"certificates {unit}-{certs.first_serial:06d}..{unit}-{certs.last_serial:06d}"
        )
        lines.append(
            f"  {e.month} {e.entry}: {e.mwh:.3f} MWh × {plain_decimal(e.factor)} + carry "
            f"{plain_decimal(e.carry_in)} → {e.minted} minted, "
            f"carry {plain_decimal(e.carry_out)}; {serials}"
            + (f"; REC Owner {e.rec_owner_id}" if owners else "")
        )
        closed = by_month.get(e.month)
        release = released.get(e.month)
        if e.entry == "accepted" and release is not None:
            lines.append(
                f"    released: accepted as reported by {release.released_by} at "
                f"{release.released_at.astimezone(tz).isoformat()} (held by "
                f"{', '.join(closed.held_by) if closed else '?'}); why: {release.reason}"
            )
        if e.entry in ("close", "accepted") and closed is not None:
            latest = max(
                (a for a in amendments if a.month == e.month),
                key=lambda a: a.amendment_id,
                default=None,
            )
            edited = (
                ""
                if latest is None
                else f"; edited: amendment {latest.amendment_id} states the month "
                f"{latest.after_wh} Wh"
            )
            for m in closed.meters:
                kind = "estimated" if m.estimated else f"{m.readings} readings"
                lines.append(
                    f"    meter {m.meter_id}: {m.energy_wh} Wh ({kind}) from {_point(m.first, tz)} "
                    f"to {_point(m.last, tz)}{edited}"
                )
        for a in amendments:
            if e.entry == f"amendment:{a.amendment_id}":
                lines.append(
                    f"    amendment {a.amendment_id} by {a.amended_by} at "
                    f"{a.amended_at.astimezone(tz).isoformat()}: {a.before_wh} Wh → "
                    f"{a.after_wh} Wh; why: {a.reason}; evidence: {a.evidence}"
                )
    for c in closes:
        if c.estimated:
            lines.append(f"  {c.month}: estimated {c.energy_wh} Wh, not actual, no certificate")
        if c.held_by and c.month not in released:
            lines.append(
                f"  {c.month}: HELD by {', '.join(c.held_by)}: {c.energy_wh} Wh as reported, "
                "no certificate until amended or accepted as reported"
            )
    for month, code, detail in held_after_close:  # (month, code, detail), not amended since
        lines.append(
            f"  {month}: HELD after its close by {code}: {detail}; no export until amended"
        )
    return "\n".join(lines) + "\n"
