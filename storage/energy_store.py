"""SQL for derived energy: neighbours of new readings, interval, day and month rows.

Each statement is written once, as a step (`Execute`, `CopyUnlessStored`, `Points`) or a
short generator of steps that is sent each step's answer and returns what it means
(`neighbours`, `day_parts`, `upsert_intervals`, ...). Whoever composes them into work
(stream.rollup_refresh's `refresh_steps`) hands the generator to one of two runners that
only execute what they are handed: `run` on a sync connection (manual reports, `pts db
load`, inside the caller's transaction), `run_async` on the stream's async one, the pattern
of storage.writer. All statements are idempotent: day rows are upserted with their
recomputed value, month rows re-summed from their days. Dead letters are
storage.dead_letter_store's, sequence anomalies storage.sequence_store's, the meter directory
storage.directory_store's.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import psycopg

from storage import reading_points
from storage.reading_points import PointRow, Span
from storage.writer import copy_unless_stored, copy_unless_stored_async

# (day, energy_wh, intervals, flags)
DayRowTuple = tuple[date, int, int, Sequence[str]]
# (interval_start, interval_end, energy_wh, flags)
IntervalRowTuple = tuple[datetime, datetime, int, Sequence[str]]

# (meter_id, lo, hi) per meter, passed as three parallel arrays
_SPANS = "unnest(%(m)b::text[], %(lo)b::timestamptz[], %(hi)b::timestamptz[]) AS q(m, lo, hi)"
_NEIGHBOURS = f"""
SELECT q.m,
       (SELECT max(ts) FROM readings_in_force r WHERE r.meter_id = q.m AND r.ts < q.lo),
       (SELECT min(ts) FROM readings_in_force r WHERE r.meter_id = q.m AND r.ts > q.hi)
FROM {_SPANS}
"""
_DAY_PARTS = """
SELECT q.m, q.d, ins.wh, ins.n, ins.flags,
       a.interval_start, a.interval_end, a.energy_wh, a.flags,
       b.interval_start, b.interval_end, b.energy_wh, b.flags
FROM unnest(%(m)b::text[], %(d)b::date[], %(lo)b::timestamptz[], %(hi)b::timestamptz[])
     AS q(m, d, lo, hi)
CROSS JOIN LATERAL (
    SELECT coalesce(sum(energy_wh), 0)::bigint AS wh, count(*) AS n,
           string_agg(array_to_string(flags, ','), ',') FILTER (WHERE flags <> '{}') AS flags
    FROM meter_interval_energy i
    WHERE i.meter_id = q.m AND i.interval_end > q.lo AND i.interval_end <= q.hi
      AND i.interval_start >= q.lo
) ins
LEFT JOIN LATERAL (
    SELECT * FROM meter_interval_energy i WHERE i.meter_id = q.m AND i.interval_end > q.lo
    ORDER BY interval_end LIMIT 1
) a ON a.interval_start < q.lo
LEFT JOIN LATERAL (
    SELECT * FROM meter_interval_energy i WHERE i.meter_id = q.m AND i.interval_end > q.hi
    ORDER BY interval_end LIMIT 1
) b ON b.interval_start < q.hi
"""
_LOCK_METERS = (
    "SELECT pg_advisory_xact_lock(7413002, hashtext(m)) FROM unnest(%b::text[]) m ORDER BY m"
)
_UPSERT_INTERVALS = """
INSERT INTO meter_interval_energy (meter_id, interval_start, interval_end, energy_wh, flags,
                                   computed_at)
SELECT m, s, e, wh, string_to_array(f, ','), now()
FROM unnest(%(m)b::text[], %(starts)b::timestamptz[], %(ends)b::timestamptz[],
            %(whs)b::bigint[], %(flags)b::text[]) AS t(m, s, e, wh, f)
ON CONFLICT (meter_id, interval_end) DO UPDATE SET interval_start = EXCLUDED.interval_start,
    energy_wh = EXCLUDED.energy_wh, flags = EXCLUDED.flags, computed_at = now()
WHERE (meter_interval_energy.interval_start, meter_interval_energy.energy_wh,
       meter_interval_energy.flags)
   IS DISTINCT FROM (EXCLUDED.interval_start, EXCLUDED.energy_wh, EXCLUDED.flags)
"""
_COPY_INTERVALS = (
    "COPY meter_interval_energy (meter_id, interval_start, interval_end, energy_wh, flags) "
    "FROM STDIN (FORMAT BINARY)"
)
_INTERVAL_TYPES = ("text", "timestamptz", "timestamptz", "int8", "text[]")
_UPSERT_DAYS = """
INSERT INTO meter_day_energy (meter_id, day, energy_wh, intervals, flags, computed_at)
SELECT m, d, wh, n, string_to_array(f, ','), now()
FROM unnest(%(m)b::text[], %(days)b::date[], %(whs)b::bigint[], %(ns)b::int[],
            %(flags)b::text[]) AS t(m, d, wh, n, f)
ON CONFLICT (meter_id, day) DO UPDATE SET energy_wh = EXCLUDED.energy_wh,
    intervals = EXCLUDED.intervals, flags = EXCLUDED.flags, computed_at = now()
"""
_REFRESH_MONTHS = """
INSERT INTO meter_month_energy (meter_id, month, energy_wh, days, flags, computed_at)
SELECT q.m, q.month, coalesce(sum(d.energy_wh), 0), count(d.day),
       coalesce((SELECT array_agg(DISTINCT f ORDER BY f) FROM meter_day_energy d2,
                 unnest(d2.flags) f
                 WHERE d2.meter_id = q.m AND d2.day >= q.month
                   AND d2.day < (q.month + interval '1 month')), '{}'),
       now()
FROM unnest(%(m)b::text[], %(months)b::date[]) AS q(m, month)
LEFT JOIN meter_day_energy d
       ON d.meter_id = q.m AND d.day >= q.month AND d.day < (q.month + interval '1 month')
GROUP BY q.m, q.month
ON CONFLICT (meter_id, month) DO UPDATE SET energy_wh = EXCLUDED.energy_wh,
    days = EXCLUDED.days, flags = EXCLUDED.flags, computed_at = now()
"""


# -- steps: what the runners execute -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Execute:
    """Run a statement; answered with its rows when `fetch`, else None."""

    sql: str
    params: Any = None
    fetch: bool = False


@dataclass(frozen=True, slots=True)
class CopyUnlessStored:
    """Binary-COPY rows in a savepoint (storage.writer.copy_unless_stored); answered False,
    with nothing written, when some row's unique key is stored already."""

    sql: str
    types: Sequence[str]
    rows: Iterable[Sequence[Any]]


@dataclass(frozen=True, slots=True)
class Points:
    """Read the stored points of `spans` (storage.reading_points: the readings in each span
    plus the one before and after, unbounded); answered with them per meter."""

    spans: Sequence[Span]


Step = Execute | CopyUnlessStored | Points
T = TypeVar("T")
Steps = Generator[Step, Any, T]


def run(conn: psycopg.Connection[Any], steps: Steps[T]) -> T:
    """Execute `steps` on a sync connection, in the caller's transaction; return their
    result."""
    answer: Any = None
    while True:
        try:
            step = steps.send(answer)
        except StopIteration as done:
            result: T = done.value
            return result
        if isinstance(step, Execute):
            cur = conn.execute(step.sql, step.params)
            answer = cur.fetchall() if step.fetch else None
        elif isinstance(step, CopyUnlessStored):
            answer = copy_unless_stored(conn, step.sql, step.types, step.rows)
        else:
            answer = reading_points.points(conn, step.spans)


async def run_async(aconn: psycopg.AsyncConnection[Any], steps: Steps[T]) -> T:
    """`run` on an async connection."""
    answer: Any = None
    while True:
        try:
            step = steps.send(answer)
        except StopIteration as done:
            result: T = done.value
            return result
        if isinstance(step, Execute):
            cur = await aconn.execute(step.sql, step.params)
            answer = await cur.fetchall() if step.fetch else None
        elif isinstance(step, CopyUnlessStored):
            answer = await copy_unless_stored_async(aconn, step.sql, step.types, step.rows)
        else:
            answer = await reading_points.points_async(aconn, step.spans)


# -- the statements, once ----------------------------------------------------------------------


def _spans(spans: Sequence[Span]) -> dict[str, list[Any]]:
    return {"m": [s[0] for s in spans], "lo": [s[1] for s in spans], "hi": [s[2] for s in spans]}


def lock_meters(meter_ids: Iterable[str]) -> Steps[None]:
    """Serialise recomputation per meter until the transaction ends (sorted: no deadlock)."""
    yield Execute(_LOCK_METERS, (sorted(set(meter_ids)),))


def neighbours(spans: Sequence[Span]) -> Steps[dict[str, tuple[datetime | None, datetime | None]]]:
    """Per meter, the stored reading instants just before `lo` and just after `hi`."""
    rows = yield Execute(_NEIGHBOURS, _spans(spans), fetch=True)
    return {r[0]: (r[1], r[2]) for r in rows}


def points(spans: Sequence[Span]) -> Steps[dict[str, list[PointRow]]]:
    """The stored points of `spans` (the `Points` step)."""
    found: dict[str, list[PointRow]] = yield Points(spans)
    return found


@dataclass(frozen=True, slots=True)
class DayParts:
    """What a local day is made of in the stored intervals: the sum, count and flags of the
    intervals wholly inside it, and the (at most two) intervals crossing its midnights."""

    inside_wh: int
    inside_count: int
    inside_flags: list[str]
    crossing: list[IntervalRowTuple]


def day_parts(
    days: Sequence[tuple[str, date, datetime, datetime]],
) -> Steps[dict[tuple[str, date], DayParts]]:
    """Per (meter_id, day, day start, next day start): the day's parts (see DayParts)."""
    if not days:
        return {}
    rows = yield Execute(_DAY_PARTS, _day_params(days), fetch=True)
    return _day_parts_of(rows)


def _day_params(days: Sequence[tuple[str, date, datetime, datetime]]) -> dict[str, list[Any]]:
    return {
        "m": [x[0] for x in days],
        "d": [x[1] for x in days],
        "lo": [x[2] for x in days],
        "hi": [x[3] for x in days],
    }


def _day_parts_of(rows: Sequence[Any]) -> dict[tuple[str, date], DayParts]:
    out: dict[tuple[str, date], DayParts] = {}
    for r in rows:
        crossing: list[IntervalRowTuple] = []
        if r[5] is not None:
            crossing.append((r[5], r[6], int(r[7]), list(r[8])))
        if r[9] is not None and r[10] != r[6]:
            crossing.append((r[9], r[10], int(r[11]), list(r[12])))
        flags = sorted(set(r[4].split(","))) if r[4] else []  # one scan: comma-joined
        out[(r[0], r[1])] = DayParts(int(r[2]), int(r[3]), flags, crossing)
    return out


def _unnested(
    names: Sequence[str], rows: Sequence[tuple[str, tuple[Any, ...]]]
) -> dict[str, list[Any]]:
    """The parameters of an `unnest` upsert: `m` is the meter ids, `names` name the tuple's
    columns, one array each; the last column is a list of flags, sent comma-joined."""
    columns = list(zip(*(r for _, r in rows), strict=True))
    params: dict[str, list[Any]] = {"m": [m for m, _ in rows]}
    params |= {name: list(col) for name, col in zip(names[:-1], columns, strict=False)}
    params[names[-1]] = [",".join(flags) for flags in columns[-1]]
    return params


def upsert_intervals(rows: Sequence[tuple[str, IntervalRowTuple]]) -> Steps[None]:
    """Upsert (meter_id, interval) rows keyed by (meter_id, interval_end): a late reading
    between two stored ones re-splits the interval it lands in (the later part keeps the key).

    Readings arriving in order only add intervals, so the rows are first copied straight in
    (binary COPY, in a savepoint: a quarter of the upsert's cost, bench/pipeline.py); when a
    key is already stored the savepoint rolls back and the rows go through the upsert.
    """
    if not rows:
        return
    copied = yield CopyUnlessStored(_COPY_INTERVALS, _INTERVAL_TYPES, _interval_copy_rows(rows))
    if not copied:  # some interval is stored already: re-split through the upsert
        yield Execute(_UPSERT_INTERVALS, _unnested(("starts", "ends", "whs", "flags"), rows))


def _interval_copy_rows(
    rows: Sequence[tuple[str, IntervalRowTuple]],
) -> Iterable[tuple[str, datetime, datetime, int, list[str]]]:
    return ((meter_id, start, end, wh, list(flags)) for meter_id, (start, end, wh, flags) in rows)


def upsert_days(rows: Sequence[tuple[str, DayRowTuple]]) -> Steps[None]:
    """Upsert recomputed (meter_id, day) rows."""
    if rows:
        yield Execute(_UPSERT_DAYS, _unnested(("days", "whs", "ns", "flags"), rows))


def refresh_months(months: Iterable[tuple[str, date]]) -> Steps[None]:
    """Recompute (meter_id, month) rows as the sum of their day rows."""
    pairs = sorted(set(months))
    if pairs:
        yield Execute(
            _REFRESH_MONTHS, {"m": [m for m, _ in pairs], "months": [d for _, d in pairs]}
        )


# -- one statement on a sync connection, for sync code outside the refresh (a withdrawal's
#    recomputation, certification.workflows.withdraw_reading): the steps above, run --------


def lock_meters_sync(conn: psycopg.Connection[Any], meter_ids: Iterable[str]) -> None:
    run(conn, lock_meters(meter_ids))


def neighbours_sync(
    conn: psycopg.Connection[Any], spans: Sequence[Span]
) -> dict[str, tuple[datetime | None, datetime | None]]:
    return run(conn, neighbours(spans))


def day_parts_sync(
    conn: psycopg.Connection[Any], days: Sequence[tuple[str, date, datetime, datetime]]
) -> dict[tuple[str, date], DayParts]:
    return run(conn, day_parts(days))


def upsert_intervals_sync(
    conn: psycopg.Connection[Any], rows: Sequence[tuple[str, IntervalRowTuple]]
) -> None:
    run(conn, upsert_intervals(rows))


def upsert_days_sync(
    conn: psycopg.Connection[Any], rows: Sequence[tuple[str, DayRowTuple]]
) -> None:
    run(conn, upsert_days(rows))


def refresh_months_sync(conn: psycopg.Connection[Any], months: Iterable[tuple[str, date]]) -> None:
    run(conn, refresh_months(months))


def monthly_totals(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], int]:
    """{(meter_id, 'YYYY-MM'): energy_wh} of every stored month."""
    rows = conn.execute(
        "SELECT meter_id, to_char(month, 'YYYY-MM'), energy_wh FROM meter_month_energy"
    ).fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}
