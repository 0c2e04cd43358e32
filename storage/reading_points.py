"""The readings that bracket a window, per meter: the one points query.

Energy is derived from register differences, so whoever derives it for a window needs the
readings inside the window plus the one just before and the one just after it (however far
away). The stream's rollups (per new span), month close (per month) and audits (up to an
instant) all read their points here, as `readings_in_force` has them (migration 020: a
withdrawn manual reading is not counted; a corrected one counts with its corrected value);
meters no withdrawal names are read from `readings` directly (the same rows, planned faster).

The before/after look-ups are first bounded to REACH around the window: a bound lets
PostgreSQL prune the partitions/chunks outside it at plan time (an unbounded "latest reading
before" plans across every chunk of a hypertable: 10-20 ms per query). 62 days covers manual
meters read monthly (manual_max_gap is 45 days); a meter with no neighbour within it is
looked up again without bound, so the points are always exactly the unbounded ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import psycopg

# (meter_id, lo, hi): the window [lo, hi], both ends included
Span = tuple[str, datetime, datetime]
REACH = timedelta(days=62)
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)  # a window's lo that no reading precedes
RESOLUTION = timedelta(microseconds=1)  # PostgreSQL's: [lo, hi) is [lo, hi - RESOLUTION]


class PointRow(NamedTuple):
    """A stored reading as energy derivation reads it (event and flags as stored text)."""

    ts: datetime
    energy_wh: int
    event: str | None
    register_modulus_wh: int | None
    flags: list[str]


_COLUMNS = "ts, energy_wh, event, register_modulus_wh, flags"
_POINTS = f"""
SELECT q.m, p.* FROM unnest(%(m)s::text[], %(lo)s::timestamptz[], %(hi)s::timestamptz[])
     AS q(m, lo, hi)
CROSS JOIN LATERAL (
    (SELECT {_COLUMNS} FROM {{source}}
      WHERE meter_id = q.m AND ts < q.lo {{before}} ORDER BY ts DESC LIMIT 1)
    UNION ALL
    (SELECT {_COLUMNS} FROM {{source}}
      WHERE meter_id = q.m AND ts >= q.lo AND ts <= q.hi)
    UNION ALL
    (SELECT {_COLUMNS} FROM {{source}}
      WHERE meter_id = q.m AND ts > q.hi {{after}} ORDER BY ts LIMIT 1)
) p
"""
_BOUNDED = {
    "before": "AND ts >= q.lo - %(reach)s::interval",
    "after": "AND ts <= q.hi + %(reach)s::interval",
}
# A meter no withdrawal names reads `readings` itself: the same rows as the view, and through
# the view TimescaleDB plans every chunk (2-3x slower, docs/timescale.md). Only the meters
# with a withdrawal (manual ones, a few) pay for the view.
_SOURCES = ("readings", "readings_in_force")
_WITHIN_REACH = {src: _POINTS.format(source=src, **_BOUNDED) for src in _SOURCES}
_UNBOUNDED = {src: _POINTS.format(source=src, before="", after="") for src in _SOURCES}
_WITHDRAWN = "SELECT DISTINCT meter_id FROM reading_withdrawals WHERE meter_id = ANY(%s)"


def _by_source(spans: Sequence[Span], withdrawn: set[str]) -> dict[str, list[Span]]:
    """The spans to read from `readings` and those to read through the view, non-empty."""
    split: dict[str, list[Span]] = {src: [] for src in _SOURCES}
    for span in spans:
        split["readings_in_force" if span[0] in withdrawn else "readings"].append(span)
    return {src: part for src, part in split.items() if part}


def _params(spans: Sequence[Span], reach: timedelta = REACH) -> dict[str, Any]:
    return {
        "m": [s[0] for s in spans],
        "lo": [s[1] for s in spans],
        "hi": [s[2] for s in spans],
        "reach": reach,
    }


def _collect(spans: Sequence[Span], rows: Sequence[Any]) -> dict[str, list[PointRow]]:
    """Rows by meter, in time order (bigint and text[] arrive as int and list)."""
    found: dict[str, list[PointRow]] = {s[0]: [] for s in spans}
    for r in rows:
        found[r[0]].append(PointRow._make(r[1:]))
    for points in found.values():
        points.sort()  # by ts: one meter's readings have distinct instants
    return found


def _unbracketed(spans: Sequence[Span], found: dict[str, list[PointRow]]) -> list[Span]:
    """Spans whose reading before or after was not within reach (perhaps farther away)."""
    out = []
    for span in spans:
        meter_id, lo, hi = span
        points = found[meter_id]
        if not points or points[0].ts >= lo or points[-1].ts <= hi:
            out.append(span)
    return out


def points(
    conn: psycopg.Connection[Any], spans: Sequence[Span], reach: timedelta | None = None
) -> dict[str, list[PointRow]]:
    """Per meter: its readings in [lo, hi], the one before lo and the one after hi. With
    `reach`, the neighbours are first looked for within it (the module docstring says why):
    worth it for old windows (month close), not for the newest readings (the stream's)."""
    if not spans:
        return {}
    withdrawn = {r[0] for r in conn.execute(_WITHDRAWN, ([s[0] for s in spans],)).fetchall()}
    found: dict[str, list[PointRow]] = {}
    for src, part in _by_source(spans, withdrawn).items():
        if reach is None:
            found.update(_collect(part, conn.execute(_UNBOUNDED[src], _params(part)).fetchall()))
            continue
        near = _collect(part, conn.execute(_WITHIN_REACH[src], _params(part, reach)).fetchall())
        far = _unbracketed(part, near)
        if far:  # nothing within reach on a side: the unbounded look-up (new or silent meters)
            near.update(_collect(far, conn.execute(_UNBOUNDED[src], _params(far)).fetchall()))
        found.update(near)
    return found


async def points_async(
    aconn: psycopg.AsyncConnection[Any], spans: Sequence[Span]
) -> dict[str, list[PointRow]]:
    """`points` on an async connection (the stream's: unbounded)."""
    if not spans:
        return {}
    cur = await aconn.execute(_WITHDRAWN, ([s[0] for s in spans],))
    withdrawn = {r[0] for r in await cur.fetchall()}
    found: dict[str, list[PointRow]] = {}
    for src, part in _by_source(spans, withdrawn).items():
        cur = await aconn.execute(_UNBOUNDED[src], _params(part))
        found.update(_collect(part, await cur.fetchall()))
    return found


def month_points(
    conn: psycopg.Connection[Any], meter_ids: Sequence[str], lo: datetime, hi: datetime
) -> dict[str, list[PointRow]]:
    """Per meter: its readings in [lo, hi), the one before lo and the one at or after hi."""
    ids = list(dict.fromkeys(meter_ids))
    return points(conn, [(m, lo, hi - RESOLUTION) for m in ids], REACH)


def points_until(conn: psycopg.Connection[Any], meter_id: str, ts: datetime) -> list[PointRow]:
    """Every reading of the meter at or before `ts`, plus the first one after it."""
    return points(conn, [(meter_id, EARLIEST, ts)])[meter_id]
