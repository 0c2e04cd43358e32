"""Idempotent batch writer for readings: one implementation, run on a sync or an async
connection.

Order of work for one batch, in one transaction:
1. make sure the month partitions of the batch exist (plain mode; a no-op on Timescale);
2. fast path, when no key repeats inside the batch: COPY (binary) straight into `readings`
   inside a savepoint. New data, the steady state, goes in at raw COPY speed. A unique
   violation (some key already stored) rolls the savepoint back and takes the slow path;
3. slow path: COPY into a per-session temp staging table, then INSERT … SELECT …
   ON CONFLICT (meter_id, ts) DO NOTHING RETURNING the new keys;
4. rows whose key was already stored with another content hash go to `reading_conflicts`
   (once per distinct content), the rest are duplicates.
Redelivering a batch therefore changes nothing and reports it as duplicates. Within a batch,
the first row for a key wins; a later row with other content is a conflict.

These steps and their statements are written once, in `_write_steps`, a generator that
yields each statement or COPY and is sent its answer; `write_rows` runs them on a sync
connection (`pts db load`, tests, benches), `write_rows_async` on the stream's async one.
The two runners only execute what they are handed. Manual readings written on a sync
connection (`write_readings`: the web and certification logins may not insert into
`readings`) go through the owner's SECURITY DEFINER function instead (storage.manual_readings,
migration 019), which keeps the same rules in SQL.

This writes `readings` only. The rollups (intervals, days, months) are kept by the caller in
the same transaction: the stream in stream.persist, every other writer through
stream.rollup_refresh.write_with_rollups.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg.errors

from schemas.reading import Reading, Source
from storage.manual_readings import write_manual_rows

COLUMNS = (
    "meter_id",
    "ts",
    "energy_wh",
    "source",
    "source_id",
    "seq",
    "received_at",
    "unit_id",
    "scale_factor",
    "raw_words",
    "register_modulus_wh",
    "event",
    "flags",
    "content_hash",
)
COPY_TYPES = (
    "text",
    "timestamptz",
    "int8",
    "text",
    "text",
    "int8",
    "timestamptz",
    "int4",
    "int4",
    "int4[]",
    "int8",
    "text",
    "text[]",
    "text",
)
_COLS = ", ".join(COLUMNS)

ReadingRow = tuple[
    str, datetime, int, str, str, int, datetime,
    int | None, int | None, list[int], int | None, str | None, list[str], str,
]  # fmt: skip
Key = tuple[str, datetime]

_CREATE_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS pts_staging "
    "(LIKE reading_row INCLUDING DEFAULTS, ord bigserial) ON COMMIT DELETE ROWS"
)
_COPY = f"COPY pts_staging ({_COLS}) FROM STDIN (FORMAT BINARY)"
_COPY_DIRECT = f"COPY readings ({_COLS}) FROM STDIN (FORMAT BINARY)"
_ENSURE_PARTITIONS = "SELECT pts_ensure_reading_partition(m) FROM unnest(%b::timestamptz[]) m"
_INSERT = (
    f"INSERT INTO readings ({_COLS}) "
    f"SELECT DISTINCT ON (meter_id, ts) {_COLS} FROM pts_staging ORDER BY meter_id, ts, ord "
    "ON CONFLICT (meter_id, ts) DO NOTHING RETURNING meter_id, ts"
)
_INSERT_UNIQUE = (  # the batch has no repeated key: skip the sort
    f"INSERT INTO readings ({_COLS}) SELECT {_COLS} FROM pts_staging "
    "ON CONFLICT (meter_id, ts) DO NOTHING RETURNING meter_id, ts"
)
_CONFLICTS = f"""
WITH clash AS (
    SELECT s.*, r.content_hash AS existing_hash
    FROM pts_staging s JOIN readings r USING (meter_id, ts)
    WHERE r.content_hash <> s.content_hash
), recorded AS (
    INSERT INTO reading_conflicts ({_COLS}, existing_hash)
    SELECT {_COLS}, existing_hash FROM clash
    ON CONFLICT (meter_id, ts, content_hash) DO NOTHING
)
SELECT count(*) FROM clash
"""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one batch did: rows new, exact duplicates, and conflicting repeats."""

    new: int
    duplicate: int
    conflict: int
    new_readings: list[Reading] = field(default_factory=list)


def reading_to_row(reading: Reading) -> ReadingRow:
    """The COPY row of a reading (column order of COLUMNS)."""
    return (
        reading.meter_id,
        reading.ts,
        reading.energy_wh,
        reading.source.value,
        reading.source_id,
        reading.seq,
        reading.received_at,
        reading.unit_id,
        reading.scale_factor,
        list(reading.raw_words),
        reading.register_modulus_wh,
        reading.event.value if reading.event else None,
        sorted(flag.value for flag in reading.flags) if reading.flags else [],
        reading.content_hash,
    )


# -- the steps, once -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Execute:
    """Run a statement; answered with its rows when `fetch`, else None."""

    sql: str
    params: Sequence[Any] | None = None
    fetch: bool = False


@dataclass(frozen=True, slots=True)
class _Copy:
    """Binary-COPY rows; answered True. `unless_stored`: in a savepoint
    (`copy_unless_stored`), answered False with nothing written when some row's unique key is
    stored already (the direct COPY into `readings`; the staging COPY needs no savepoint)."""

    sql: str
    rows: Iterable[Sequence[Any]]
    unless_stored: bool = False
    types: Sequence[str] = COPY_TYPES


_Step = _Execute | _Copy
# (new, conflict, new keys)
_Steps = Generator[_Step, Any, tuple[int, int, list[Key]]]


def _write_steps(rows: Sequence[ReadingRow]) -> _Steps:
    """The writer's statements for one non-empty batch of rows, in order (module docstring)."""
    repeated = _has_repeated_key(rows)
    yield _Execute(_ENSURE_PARTITIONS, (_months(rows),))
    if not repeated and (yield _Copy(_COPY_DIRECT, rows, unless_stored=True)):
        return len(rows), 0, [(r[0], r[1]) for r in rows]
    # some keys are stored already (or repeat in the batch): dedupe through staging
    yield _Execute(_CREATE_STAGING)
    yield _Copy(_COPY, rows)
    inserted = yield _Execute(_INSERT if repeated else _INSERT_UNIQUE, fetch=True)
    new_keys: list[Key] = [(r[0], r[1]) for r in inserted]
    conflict = 0
    if len(new_keys) < len(rows):
        counted = yield _Execute(_CONFLICTS, fetch=True)
        conflict = int(counted[0][0]) if counted else 0
    return len(new_keys), conflict, new_keys


def _has_repeated_key(rows: Sequence[ReadingRow]) -> bool:
    return len({(row[0], row[1]) for row in rows}) != len(rows)


def _months(rows: Sequence[ReadingRow]) -> list[datetime]:
    """One instant in each UTC month the rows fall in (the partitions they need)."""
    utc = (r[1] if r[1].tzinfo is UTC else r[1].astimezone(UTC) for r in rows)
    return [datetime(y, m, 1, tzinfo=UTC) for y, m in {(u.year, u.month) for u in utc}]


def _result(readings: Sequence[Reading], new: int, conflict: int, keys: list[Key]) -> WriteResult:
    wanted = set(keys)
    new_readings = []
    for reading in readings:
        key = (reading.meter_id, reading.ts)
        if key in wanted:
            new_readings.append(reading)
            wanted.discard(key)  # the first row for a key is the one stored
    return WriteResult(new, len(readings) - new - conflict, conflict, new_readings)


# -- the sync runner ---------------------------------------------------------------------------


def write_readings(conn: psycopg.Connection[Any], readings: Sequence[Reading]) -> WriteResult:
    """Write a batch of readings idempotently (see the module docstring for the order); an
    all-manual batch through the owner's function (storage.manual_readings, migration 019)."""
    rows = [reading_to_row(r) for r in readings]
    if readings and all(r.source is Source.MANUAL for r in readings):
        named = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
        new, conflict, keys = write_manual_rows(conn, named)
        return _result(readings, new, conflict, keys)
    new, conflict, keys = write_rows(conn, rows)
    return _result(readings, new, conflict, keys)


def write_rows(
    conn: psycopg.Connection[Any], rows: Sequence[ReadingRow]
) -> tuple[int, int, list[Key]]:
    """Write prepared rows in one transaction; return (new, conflict, new keys)."""
    if not rows:
        return 0, 0, []
    steps = _write_steps(rows)
    with conn.transaction(), conn.cursor() as cur:
        answer: Any = None
        while True:
            try:
                step = steps.send(answer)
            except StopIteration as done:
                result: tuple[int, int, list[Key]] = done.value
                return result
            if isinstance(step, _Copy) and step.unless_stored:
                answer = copy_unless_stored(conn, step.sql, step.types, step.rows)
            elif isinstance(step, _Copy):
                with cur.copy(step.sql) as copy:
                    copy.set_types(list(step.types))
                    for row in step.rows:
                        copy.write_row(row)
                answer = True
            else:
                cur.execute(step.sql, step.params)
                answer = cur.fetchall() if step.fetch else None


def copy_unless_stored(
    conn: psycopg.Connection[Any], sql: str, types: Sequence[str], rows: Iterable[Sequence[Any]]
) -> bool:
    """Binary-COPY `rows` in a savepoint; False, with nothing written, when some row's unique
    key is stored already (the caller then takes its deduplicating path)."""
    try:
        with conn.transaction(), conn.cursor() as cur, cur.copy(sql) as copy:
            copy.set_types(list(types))
            for row in rows:
                copy.write_row(row)
        return True
    except psycopg.errors.UniqueViolation:
        return False


# -- the async runner --------------------------------------------------------------------------


async def write_readings_async(
    aconn: psycopg.AsyncConnection[Any], readings: Sequence[Reading]
) -> WriteResult:
    """`write_readings` on the stream's async connection: the same steps, run by
    `write_rows_async`; its login may insert any source, manual batches included."""
    new, conflict, keys = await write_rows_async(aconn, [reading_to_row(r) for r in readings])
    return _result(readings, new, conflict, keys)


async def write_rows_async(
    aconn: psycopg.AsyncConnection[Any], rows: Sequence[ReadingRow]
) -> tuple[int, int, list[Key]]:
    """`write_rows` on an async connection."""
    if not rows:
        return 0, 0, []
    steps = _write_steps(rows)
    async with aconn.transaction(), aconn.cursor() as cur:
        answer: Any = None
        while True:
            try:
                step = steps.send(answer)
            except StopIteration as done:
                result: tuple[int, int, list[Key]] = done.value
                return result
            if isinstance(step, _Copy) and step.unless_stored:
                answer = await copy_unless_stored_async(aconn, step.sql, step.types, step.rows)
            elif isinstance(step, _Copy):
                async with cur.copy(step.sql) as copy:
                    copy.set_types(list(step.types))
                    for row in step.rows:
                        await copy.write_row(row)
                answer = True
            else:
                await cur.execute(step.sql, step.params)
                answer = await cur.fetchall() if step.fetch else None


async def copy_unless_stored_async(
    aconn: psycopg.AsyncConnection[Any],
    sql: str,
    types: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> bool:
    """`copy_unless_stored` on an async connection."""
    try:
        async with aconn.transaction(), aconn.cursor() as cur, cur.copy(sql) as copy:
            copy.set_types(list(types))
            for row in rows:
                await copy.write_row(row)
        return True
    except psycopg.errors.UniqueViolation:
        return False
