"""Interval energy from cumulative register readings: integer Wh, exact.

Between two successive readings of a meter the energy is the register difference, except:
- the current reading opens a newly installed meter (ReadingEvent.OPENING) on the same
  logical meter: energy = 0 across the swap, flagged METER_REPLACED (what the old meter
  registered until its CLOSING read was already counted);
- the reading is flagged RESET by its source (the meter said it was cleared): energy =
  current, flagged RESET;
- the register went down and wrapping at its modulus is *plausible*: energy = current +
  modulus − previous, flagged ROLLOVER;
- otherwise a register that went down, or (with a modulus) went up by more than half the
  modulus where that is not plausible either (a restart restoring a value from before the
  last wrap), made a **backwards step**: energy 0 until staff resolve it, flagged RESET
  when the register fell below half its last value (it looks cleared), else NON_MONOTONIC.
  Month close holds such a month (finding backwards_register).

A forward movement of `f` Wh is plausible when the meter's system can produce it in the
time elapsed: `f` at most DC capacity × tolerance × max(elapsed, ROLLOVER_MIN_SPAN) (the
floor keeps one register step across a wrap on a fast poll plausible). With no limit known
the smaller movement wins: a wrap is plausible when the forward difference is below half the
modulus (every caller in PTS knows the capacity; the fallback exists for tools and tests).

Every rule looks at two successive stored readings only, so the result depends on the set
of readings and never on the order they arrived in. An interval whose mean power exceeds
the system's DC capacity × a tolerance is flagged IMPLAUSIBLE_POWER and kept (raw data is
never dropped; month close holds the month: over_capacity).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from schemas.reading import QualityFlag, Reading, ReadingEvent

_RESET = QualityFlag.RESET.value  # looked up once: month close converts every stored reading

# an interval's flags: the one vocabulary of schemas.reading (NON_MONOTONIC and
# IMPLAUSIBLE_POWER are the ones only this module sets)
Flag = QualityFlag


DEFAULT_POWER_TOLERANCE = Decimal("1.2")  # nameplate × this; PTS_STREAM_POWER_TOLERANCE
ROLLOVER_MIN_SPAN = timedelta(minutes=5)  # a wrap's plausibility: time counted at least this


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

    def allows(self, energy_wh: int, start: datetime, end: datetime) -> bool:
        """The system can register `energy_wh` between the instants (counted at least
        ROLLOVER_MIN_SPAN apart)."""
        return not self.exceeded(energy_wh, start, max(end, start + ROLLOVER_MIN_SPAN))


@dataclass(frozen=True, slots=True)
class RegisterPoint:
    """The part of a reading that energy depends on."""

    ts: datetime
    energy_wh: int
    event: ReadingEvent | None = None
    modulus_wh: int | None = None
    reset: bool = False

    @classmethod
    def stored(
        cls,
        ts: datetime,
        energy_wh: int,
        event: str | None,
        register_modulus_wh: int | None,
        flags: Sequence[str],
    ) -> RegisterPoint:
        """A reading as stored (event and flags as text: storage.reading_points.PointRow)."""
        return cls(
            ts,
            energy_wh,
            ReadingEvent(event) if event else None,
            register_modulus_wh,
            _RESET in flags,
        )

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


def register_delta(
    prev: RegisterPoint, cur: RegisterPoint, limit: PowerLimit | None = None
) -> tuple[int, frozenset[Flag]]:
    """Energy between two successive readings of one meter, and how it was derived (the
    module docstring gives the rules; `limit` decides whether a wrap is plausible)."""
    if cur.event is ReadingEvent.OPENING:
        return 0, frozenset({QualityFlag.METER_REPLACED})
    if cur.reset:
        return cur.energy_wh, frozenset({QualityFlag.RESET})
    modulus = cur.modulus_wh or prev.modulus_wh
    if cur.energy_wh >= prev.energy_wh:
        forward = cur.energy_wh - prev.energy_wh
        if modulus and forward > modulus // 2 and not _plausible(forward, prev, cur, limit):
            return 0, frozenset({QualityFlag.NON_MONOTONIC})  # back across the wrap
        return forward, frozenset()
    if modulus:
        wrapped = cur.energy_wh + modulus - prev.energy_wh
        if _plausible(wrapped, prev, cur, limit, modulus):
            return wrapped, frozenset({QualityFlag.ROLLOVER})
    if cur.energy_wh < prev.energy_wh / 2:
        return 0, frozenset({QualityFlag.RESET})
    return 0, frozenset({QualityFlag.NON_MONOTONIC})


def _plausible(
    forward_wh: int,
    prev: RegisterPoint,
    cur: RegisterPoint,
    limit: PowerLimit | None,
    modulus: int | None = None,
) -> bool:
    """A forward movement the system can make in the time elapsed; with no limit known, one
    below half the modulus (the smaller of the two movements)."""
    if limit is not None:
        return limit.allows(forward_wh, prev.ts, cur.ts)
    return modulus is not None and forward_wh < modulus - modulus // 2


def intervals(points: Iterable[RegisterPoint], limit: PowerLimit | None = None) -> list[Interval]:
    """Intervals between successive points (sorted here; repeated instants keep the first).

    With `limit` (the system's capacity × tolerance), wraps are judged plausible or not by it
    and intervals above it are flagged IMPLAUSIBLE_POWER.
    """
    ordered: list[RegisterPoint] = []
    for point in sorted(points, key=lambda p: p.ts):
        if ordered and ordered[-1].ts == point.ts:
            continue
        ordered.append(point)
    out = []
    for prev, cur in pairwise(ordered):
        energy, flags = register_delta(prev, cur, limit)
        if limit is not None and limit.exceeded(energy, prev.ts, cur.ts):
            flags = flags | {QualityFlag.IMPLAUSIBLE_POWER}
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
