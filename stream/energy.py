"""Interval energy from cumulative register readings: integer Wh, exact.

Between two successive readings of a meter the energy is the register difference, except:
- the register wrapped at its modulus (it went down by more than half the modulus):
  energy = current + modulus − previous, flagged ROLLOVER;
- the reading is flagged RESET, or the register fell below half its last value (it was
  cleared): energy = current, flagged RESET;
- the register went down by less than that without rollover, reset or swap (a glitch):
  energy 0, flagged NON_MONOTONIC — the rebound after a dip then counts at most the dip;
- the current reading opens a newly installed meter (ReadingEvent.OPENING) on the same
  logical meter: energy = 0 across the swap, flagged METER_REPLACED (what the old meter
  registered until its CLOSING read was already counted).
Every rule looks at two successive stored readings only, so the result depends on the set
of readings and never on the order they arrived in. An interval whose mean power exceeds
the system's DC capacity × a tolerance is flagged IMPLAUSIBLE_POWER and kept (raw data is
never dropped; review and estimation decide).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise

from schemas.reading import QualityFlag, Reading, ReadingEvent


class Anomaly(StrEnum):
    """Flags of derived intervals beyond schemas.QualityFlag (validation findings)."""

    NON_MONOTONIC = "non_monotonic"  # the register went down without rollover/reset/swap
    IMPLAUSIBLE_POWER = "implausible_power"  # mean power above capacity × tolerance


Flag = QualityFlag | Anomaly


DEFAULT_POWER_TOLERANCE = Decimal("1.2")  # nameplate × this; PTS_STREAM_POWER_TOLERANCE


@dataclass(frozen=True, slots=True)
class PowerLimit:
    """The engineering-feasibility limit: DC nameplate × tolerance."""

    capacity_kw_dc: Decimal
    tolerance: Decimal = DEFAULT_POWER_TOLERANCE

    def exceeded(self, energy_wh: int, start: datetime, end: datetime) -> bool:
        """Mean power over (start, end] above the limit (compared exactly, in integers)."""
        limit_w = self.capacity_kw_dc * 1000 * self.tolerance
        # P = energy_wh × 3600 / seconds = energy_wh × 3.6e9 / micros  >  limit_w
        return energy_wh * 3_600_000_000 > limit_w * _micros(end - start)


@dataclass(frozen=True, slots=True)
class RegisterPoint:
    """The part of a reading that energy depends on."""

    ts: datetime
    energy_wh: int
    event: ReadingEvent | None = None
    modulus_wh: int | None = None
    reset: bool = False

    @classmethod
    def of(cls, reading: Reading) -> RegisterPoint:
        return cls(
            reading.ts,
            reading.energy_wh,
            reading.event,
            reading.register_modulus_wh,
            QualityFlag.RESET in reading.flags,
        )


@dataclass(frozen=True, slots=True)
class Interval:
    """Energy registered between two successive readings (start, end]."""

    start: datetime
    end: datetime
    energy_wh: int
    flags: frozenset[Flag] = frozenset()


def register_delta(prev: RegisterPoint, cur: RegisterPoint) -> tuple[int, frozenset[Flag]]:
    """Energy between two successive readings of one meter, and how it was derived."""
    if cur.event is ReadingEvent.OPENING:
        return 0, frozenset({QualityFlag.METER_REPLACED})
    if cur.reset:
        return cur.energy_wh, frozenset({QualityFlag.RESET})
    if cur.energy_wh >= prev.energy_wh:
        return cur.energy_wh - prev.energy_wh, frozenset()
    modulus = cur.modulus_wh or prev.modulus_wh
    if modulus and prev.energy_wh - cur.energy_wh > modulus // 2:
        return cur.energy_wh + modulus - prev.energy_wh, frozenset({QualityFlag.ROLLOVER})
    if cur.energy_wh < prev.energy_wh / 2:
        return cur.energy_wh, frozenset({QualityFlag.RESET})
    return 0, frozenset({Anomaly.NON_MONOTONIC})


def intervals(points: Iterable[RegisterPoint], limit: PowerLimit | None = None) -> list[Interval]:
    """Intervals between successive points (sorted here; repeated instants keep the first).

    With `limit`, intervals above it are flagged IMPLAUSIBLE_POWER.
    """
    ordered: list[RegisterPoint] = []
    for point in sorted(points, key=lambda p: p.ts):
        if ordered and ordered[-1].ts == point.ts:
            continue
        ordered.append(point)
    out = []
    for prev, cur in pairwise(ordered):
        energy, flags = register_delta(prev, cur)
        if limit is not None and limit.exceeded(energy, prev.ts, cur.ts):
            flags = flags | {Anomaly.IMPLAUSIBLE_POWER}
        out.append(Interval(prev.ts, cur.ts, energy, flags))
    return out


def split_interval(
    interval: Interval, boundaries: Sequence[datetime]
) -> list[tuple[datetime, int]]:
    """Split an interval's energy at instants strictly inside it, by linear interpolation.

    Returns (piece start, energy) pairs whose energies sum exactly to the interval's: the
    register is interpolated at each boundary and floored, so every piece is a difference of
    interpolated integer registers. Durations are measured in UTC: Python subtracts two
    datetimes of one zone by wall clock, which would be an hour off across a DST change.
    """
    inside = [b for b in boundaries if interval.start < b < interval.end]
    if not inside:
        return [(interval.start, interval.energy_wh)]
    origin = interval.start.astimezone(UTC)
    span = _micros(interval.end.astimezone(UTC) - origin)
    pieces = []
    start, done = interval.start, 0
    for boundary in inside:
        reached = interval.energy_wh * _micros(boundary.astimezone(UTC) - origin) // span
        pieces.append((start, reached - done))
        start, done = boundary, reached
    pieces.append((start, interval.energy_wh - done))
    return pieces


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
