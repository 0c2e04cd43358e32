"""A system's registered DC capacity over time, pure (migration 021, docs/certification.md).

A capacity takes effect at local midnight of its effective day and holds until the next one;
before the first recorded day the first capacity holds (what came before is unknown). Every
bound of a month uses the capacity in force then, never today's:

- the energy bounds (over_capacity at close, a held month accepted as reported, an
  amendment) integrate the capacity over the hours counted: in the month of a change,
  kW × hours before it plus kW × hours after it (`kw_hours`);
- the power limit (implausible_power, a wrap's plausibility, recounts of late readings) is
  the largest capacity in force during the hours counted (`peak_kw`): after an expansion
  the new panels may produce their power for the rest of that month.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from stream.calendar import local_midnight, month_bounds


@dataclass(frozen=True, slots=True)
class CapacityHistory:
    """(effective day, kW DC) in day order, in the system's `timezone`."""

    steps: tuple[tuple[date, Decimal], ...]
    timezone: str

    @classmethod
    def of(cls, steps: Iterable[tuple[date, Decimal]], timezone: str) -> CapacityHistory:
        ordered = tuple(sorted(steps))
        if not ordered:
            raise ValueError("a capacity history needs at least one capacity")
        return cls(ordered, timezone)

    @classmethod
    def constant(cls, capacity_kw_dc: Decimal, timezone: str) -> CapacityHistory:
        """One capacity for all time (a system with no recorded history)."""
        return cls(((date(1900, 1, 1), capacity_kw_dc),), timezone)

    def _changes(self) -> list[tuple[datetime, Decimal]]:
        tz = ZoneInfo(self.timezone)
        # in UTC: Python subtracts two datetimes sharing a zone by wall clock (DST ignored)
        return [(local_midnight(day, tz).astimezone(UTC), kw) for day, kw in self.steps]

    def at(self, instant: datetime) -> Decimal:
        """The capacity in force at `instant`."""
        changes = self._changes()
        k = bisect_right([c[0] for c in changes], instant) - 1
        return changes[max(k, 0)][1]

    def pieces(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime, Decimal]]:
        """[start, end) cut where the capacity changes: (from, to, kW) in time order, in UTC."""
        out = []
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        cuts = [c for c in self._changes() if start < c[0] < end]
        lo, kw = start, self.at(start)
        for at, new_kw in cuts:
            out.append((lo, at, kw))
            lo, kw = at, new_kw
        out.append((lo, end, kw))
        return out

    def bound(self, start: datetime, end: datetime, factor: Decimal) -> tuple[Decimal, str]:
        """The most energy (Wh) the capacity in force can produce in [start, end) at the
        capacity factor `factor`, and how it was computed (for a finding's message)."""
        return capacity_bound(self.pieces(start, end), factor, plain=True)

    def peak_kw(self, start: datetime, end: datetime) -> Decimal:
        """The largest capacity in force in [start, end)."""
        return max(kw for _, _, kw in self.pieces(start, end))

    def month_peak_kw(self, month: str) -> Decimal:
        start, end = month_bounds(month, ZoneInfo(self.timezone))
        return self.peak_kw(start, end)


def capacity_bound(
    pieces: list[tuple[datetime, datetime, Decimal]], factor: Decimal, plain: bool = False
) -> tuple[Decimal, str]:
    """Σ kW × hours × 1000 × `factor` over `pieces`, and its text: `10 kW × 744 h` for one
    piece, `(20 kW × 216 h + 5 kW × 528 h)` for several (`plain`: kW without trailing
    zeros)."""
    terms = [(kw, Decimal((b - a).total_seconds()) / 3600) for a, b, kw in pieces]
    most = sum((kw * 1000 * hours * factor for kw, hours in terms), Decimal(0))
    text = " + ".join(
        f"{kw.normalize():f} kW × {hours} h" if plain else f"{kw} kW × {hours} h"
        for kw, hours in terms
    )
    return most, text if len(terms) == 1 else f"({text})"
