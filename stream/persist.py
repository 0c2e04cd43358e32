"""The I/O edge of the core: store sorted messages in one database transaction.

Order, in one transaction, so a crash leaves either all of it or none of it:
1. record the rejects in `dead_letters` (idempotent per Kafka source position);
2. write the readings to keep through storage.writer (COPY + ON CONFLICT: redelivery is a
   no-op, a repeated key with other content lands in `reading_conflicts`);
3. lock each meter with new readings (advisory, sorted) and recompute exactly the local days
   their energy changes and the months of those days (stream.rollup), from stored readings;
4. commit. Only then may the engine acknowledge its input (Kafka offset, queue item).
Transient database failures are retried with backoff (`persist_with_retry`); the input is
not acknowledged meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import structlog

from schemas.reading import QualityFlag, Reading
from storage import energy_store
from storage.writer import write_readings_async
from stream.core import Reject, Sorting
from stream.directory import MeterDirectory
from stream.energy import DEFAULT_POWER_TOLERANCE, Interval, PowerLimit, RegisterPoint
from stream.errors import StoreUnavailableError
from stream.rollup import changed_intervals, day_bounds, day_from_parts, parse_flag, touched_days

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message came from (Kafka position, or a label such as 'inprocess')."""

    topic: str
    partition: int | None = None
    offset: int | None = None


@dataclass(slots=True)
class Outcome:
    """What one message did."""

    new: int = 0
    duplicate: int = 0
    conflict: int = 0
    rejects: list[Reject] = field(default_factory=list)


async def persist(
    aconn: psycopg.AsyncConnection[Any],
    directory: MeterDirectory,
    messages: Sequence[tuple[Sorting, Origin]],
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE,
) -> Outcome:
    """Store the sortings of one or more messages in one transaction and recompute the
    rollups they touch once (see the module docstring); the outcome sums them."""
    outcome = Outcome()
    to_write: list[Reading] = []
    async with aconn.transaction():
        for sorting, origin in messages:
            outcome.duplicate += sorting.duplicates
            outcome.rejects += sorting.rejects
            to_write += sorting.to_write
            if sorting.rejects:
                await energy_store.record_dead_letters(
                    aconn,
                    [(r.code.value, r.reason, r.payload, n) for n, r in enumerate(sorting.rejects)],
                    origin.topic,
                    origin.partition,
                    origin.offset,
                )
        if to_write:
            result = await write_readings_async(aconn, to_write)
            outcome.new = result.new
            outcome.duplicate += result.duplicate
            outcome.conflict = result.conflict
            await recompute(aconn, directory, result.new_readings, power_tolerance)
    for sorting, origin in messages:
        for reject in sorting.rejects:
            log.warning(
                "reading_rejected",
                reason_code=reject.code.value,
                reason=reject.reason,
                meter_id=reject.meter_id,
                topic=origin.topic,
                partition=origin.partition,
                offset=origin.offset,
            )
    return outcome


async def recompute(
    aconn: psycopg.AsyncConnection[Any],
    directory: MeterDirectory,
    new_readings: Sequence[Reading],
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE,
) -> None:
    """Upsert the intervals new readings change, rebuild the local days they touch from the
    stored intervals, re-sum those days' months (stream.rollup explains the windows).

    Seven statements whatever the number of meters.
    """
    by_meter: dict[str, list[Reading]] = defaultdict(list)
    for reading in new_readings:
        if directory.get(reading.meter_id) is not None:  # the stages refused unknown meters
            by_meter[reading.meter_id].append(reading)
    if not by_meter:
        return
    await energy_store.lock_meters(aconn, by_meter)
    spans = [
        (m, min(r.ts for r in rs), max(r.ts for r in rs)) for m, rs in sorted(by_meter.items())
    ]
    found = await energy_store.neighbours(aconn, spans)
    edges = {m: found.get(m, (None, None)) for m, _, _ in spans}
    stored = await energy_store.points(
        aconn, [(m, edges[m][0] or lo, edges[m][1] or hi) for m, lo, hi in spans]
    )
    interval_rows: list[tuple[str, energy_store.IntervalRowTuple]] = []
    wanted_days: list[tuple[str, date, datetime, datetime]] = []
    zones: dict[str, ZoneInfo] = {}
    for meter_id, lo, hi in spans:
        info = directory.get(meter_id)
        assert info is not None
        tz = zones[meter_id] = ZoneInfo(info.timezone)
        before, after = edges[meter_id]
        points = [
            RegisterPoint(ts, wh, event, modulus, QualityFlag.RESET.value in flags)
            for ts, wh, event, modulus, flags in stored[meter_id]
        ]
        limit = PowerLimit(info.capacity_kw_dc, power_tolerance)
        interval_rows += [
            (meter_id, (i.start, i.end, i.energy_wh, sorted(f.value for f in i.flags)))
            for i in changed_intervals(points, before, after, limit)
        ]
        first_day, last_day = touched_days(lo, hi, before, after, tz)
        wanted_days += [(meter_id, *b) for b in day_bounds(first_day, last_day, tz)]
    await energy_store.upsert_intervals(aconn, interval_rows)
    parts = await energy_store.day_parts(aconn, wanted_days)
    day_rows: list[tuple[str, energy_store.DayRowTuple]] = []
    for (meter_id, day), p in sorted(parts.items()):
        crossing = [
            Interval(s, e, wh, frozenset(parse_flag(f) for f in flags))
            for s, e, wh, flags in p.crossing
        ]
        row = day_from_parts(
            day, zones[meter_id], p.inside_wh, p.inside_count, p.inside_flags, crossing
        )
        if row is not None:
            day_rows.append((meter_id, (row.day, row.energy_wh, row.intervals, row.flags)))
    await energy_store.upsert_days(aconn, day_rows)
    await energy_store.refresh_months(aconn, [(m, d.replace(day=1)) for m, (d, *_) in day_rows])


async def persist_with_retry(
    aconn: psycopg.AsyncConnection[Any],
    directory: MeterDirectory,
    messages: Sequence[tuple[Sorting, Origin]],
    attempts: int = 5,
    first_delay: float = 0.2,
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE,
) -> Outcome:
    """`persist`, retried with exponential backoff on deadlocks and serialization failures.

    Raises StoreUnavailableError when the connection is gone or the attempts are spent (the
    engine then stops without acknowledging; the input is redelivered on restart).
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return await persist(aconn, directory, messages, power_tolerance)
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
            log.warning("persist_retried", attempt=attempt, error=str(exc))
            await asyncio.sleep(delay)
            delay *= 2
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(
                f"database unavailable while storing {len(messages)} message(s): {exc}"
            ) from exc
    raise StoreUnavailableError(
        f"gave up storing {len(messages)} message(s) after {attempts} tries"
    )
