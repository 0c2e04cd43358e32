"""Keeping the rollups current when readings are written: the recomputation of interval, day
and month rows, its planning steps pure, shared by every writer of readings.

The steps are written once, in `refresh_steps`, a generator of storage.energy_store steps
(the pattern of storage.writer): the stream runs it on its async connection
(`refresh_rollups_async`, from stream.persist); writers that run inside a sync transaction
(manual reports, `pts db load`) store readings with `write_with_rollups`, which runs it with
`refresh_rollups`. The two runners only execute what the generator hands them:

1. `spans_of`: per meter with new readings (and known to the directory), the span they cover;
2. lock those meters (advisory, sorted); find each span's stored neighbours;
3. fetch the stored readings of [before, after]; `plan_intervals`: the intervals ending in
   (before, after] and the local days they touch (stream.rollup explains the windows);
4. upsert the intervals; fetch the touched days' parts; `day_rows`: each day rebuilt;
5. upsert the days; re-sum their months.

So a system-month's rollup is the same whichever writer stored its readings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from schemas.reading import Reading
from storage import directory_store, energy_store
from storage.energy_store import DayParts, DayRowTuple, IntervalRowTuple
from storage.reading_points import PointRow, Span
from storage.writer import WriteResult, write_readings
from stream.directory import MeterDirectory, StaticDirectory, meter_infos
from stream.energy import DEFAULT_POWER_TOLERANCE, Interval, PowerLimit, RegisterPoint
from stream.rollup import changed_intervals, day_bounds, day_from_parts, parse_flag, touched_days

Edges = dict[str, tuple[datetime | None, datetime | None]]


@dataclass(slots=True)
class IntervalPlan:
    """The intervals to upsert and the local days to rebuild (with each meter's zone)."""

    interval_rows: list[tuple[str, IntervalRowTuple]] = field(default_factory=list)
    wanted_days: list[tuple[str, date, datetime, datetime]] = field(default_factory=list)
    zones: dict[str, ZoneInfo] = field(default_factory=dict)


def spans_of(directory: MeterDirectory, new_readings: Sequence[Reading]) -> list[Span]:
    """(meter_id, first, last reading time) per known meter with new readings, sorted."""
    by_meter: dict[str, list[datetime]] = defaultdict(list)
    for reading in new_readings:
        if directory.get(reading.meter_id) is not None:  # unknown meters have no rollups
            by_meter[reading.meter_id].append(reading.ts)
    return [(m, min(ts), max(ts)) for m, ts in sorted(by_meter.items())]


def edges_of(spans: Sequence[Span], found: Edges) -> Edges:
    """Each span's stored neighbours (None where there is none)."""
    return {m: found.get(m, (None, None)) for m, _, _ in spans}


def point_spans(spans: Sequence[Span], edges: Edges) -> list[Span]:
    """The stored readings to fetch per meter: [before, after], else the span itself."""
    return [(m, edges[m][0] or lo, edges[m][1] or hi) for m, lo, hi in spans]


def plan_intervals(
    directory: MeterDirectory,
    spans: Sequence[Span],
    edges: Edges,
    stored: Mapping[str, Sequence[PointRow]],
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE,
) -> IntervalPlan:
    """The intervals the new readings change and the local days they touch."""
    plan = IntervalPlan()
    for meter_id, lo, hi in spans:
        info = directory.get(meter_id)
        assert info is not None  # spans_of keeps known meters only
        tz = plan.zones[meter_id] = ZoneInfo(info.timezone)
        before, after = edges[meter_id]
        points = [RegisterPoint.stored(*row) for row in stored[meter_id]]
        limit = PowerLimit(info.capacity_kw_dc, power_tolerance)
        plan.interval_rows += [
            (meter_id, (i.start, i.end, i.energy_wh, sorted(f.value for f in i.flags)))
            for i in changed_intervals(points, before, after, limit)
        ]
        first_day, last_day = touched_days(lo, hi, before, after, tz)
        plan.wanted_days += [(meter_id, *b) for b in day_bounds(first_day, last_day, tz)]
    return plan


def day_rows(
    parts: Mapping[tuple[str, date], DayParts], zones: Mapping[str, ZoneInfo]
) -> list[tuple[str, DayRowTuple]]:
    """Each touched day rebuilt from its stored intervals (days no interval touches: none)."""
    rows: list[tuple[str, DayRowTuple]] = []
    for (meter_id, day), p in sorted(parts.items()):
        crossing = [
            Interval(s, e, wh, frozenset(parse_flag(f) for f in flags))
            for s, e, wh, flags in p.crossing
        ]
        row = day_from_parts(
            day, zones[meter_id], p.inside_wh, p.inside_count, p.inside_flags, crossing
        )
        if row is not None:
            rows.append((meter_id, (row.day, row.energy_wh, row.intervals, row.flags)))
    return rows


def months_of_rows(rows: Sequence[tuple[str, DayRowTuple]]) -> list[tuple[str, date]]:
    """(meter_id, first day of the month) of each rebuilt day."""
    return [(m, d.replace(day=1)) for m, (d, *_) in rows]


def refresh_steps(
    directory: MeterDirectory,
    new_readings: Sequence[Reading],
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE,
) -> energy_store.Steps[None]:
    """The recomputation's statements for readings just written, in order (the module
    docstring gives the steps): seven statements whatever the number of meters."""
    spans = spans_of(directory, new_readings)
    if not spans:
        return
    yield from energy_store.lock_meters([m for m, _, _ in spans])
    edges = edges_of(spans, (yield from energy_store.neighbours(spans)))
    stored = yield from energy_store.points(point_spans(spans, edges))
    plan = plan_intervals(directory, spans, edges, stored, power_tolerance)
    yield from energy_store.upsert_intervals(plan.interval_rows)
    rows = day_rows((yield from energy_store.day_parts(plan.wanted_days)), plan.zones)
    yield from energy_store.upsert_days(rows)
    yield from energy_store.refresh_months(months_of_rows(rows))


def refresh_rollups(
    conn: psycopg.Connection[Any],
    new_readings: Sequence[Reading],
    directory: MeterDirectory | None = None,
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE,
) -> None:
    """Bring the interval, day and month rollups up to date with readings just written on
    `conn`, inside its transaction (`refresh_steps`, run). Without a `directory`, the
    registry facts of the meters concerned are read on `conn`."""
    if directory is None:
        ids = {r.meter_id for r in new_readings}
        directory = StaticDirectory(meter_infos(directory_store.directory_rows_sync(conn, ids)))
    energy_store.run(conn, refresh_steps(directory, new_readings, power_tolerance))


def write_with_rollups(
    conn: psycopg.Connection[Any],
    readings: Sequence[Reading],
    directory: MeterDirectory | None = None,
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE,
) -> WriteResult:
    """Write readings (storage.writer: idempotent) and refresh the rollups of the new ones,
    in one transaction: how every sync writer of readings stores them."""
    with conn.transaction():
        result = write_readings(conn, readings)
        refresh_rollups(conn, result.new_readings, directory, power_tolerance)
    return result


async def refresh_rollups_async(
    aconn: psycopg.AsyncConnection[Any],
    directory: MeterDirectory,
    new_readings: Sequence[Reading],
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE,
) -> None:
    """`refresh_rollups` on the stream's async connection (stream.persist runs it inside
    its transaction): the same steps, run by the async runner."""
    await energy_store.run_async(aconn, refresh_steps(directory, new_readings, power_tolerance))
