"""How many readings in force each (meter, first, last) span holds: the late-reading check's
count (certification.workflows.late_readings), run at every month close and every NEPOOL
GIS export over every closed month of the systems concerned.

Spans sharing their bounds (a fleet's meters on one grid share a month's bounds) are counted
by one statement with the bounds as constants and the meters as an array, grouped by meter:
PostgreSQL prunes the partitions and TimescaleDB the chunks at plan time, and TimescaleDB
counts compressed chunks batch by batch (vectorised, decompressing the `ts` column only). A
correlated count per span (the query this replaces) planned every chunk of the hypertable
and excluded them again at run time for each span, and counted through the view
`readings_in_force`, whose anti-join turns vectorised counting off: ~10x slower on
compressed chunks (docs/timescale.md has the figures).

In force (migration 020): a reading counts unless its (meter, instant)'s latest withdrawal
put nothing in its place; a withdrawal with a replacement keeps the count. So the count is
the readings' minus the withdrawn ones with no replacement, each of which names a stored
reading (joined, so a withdrawal naming none subtracts nothing): the same number
`readings_in_force` gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from storage.reading_points import Span

_COUNT = """
SELECT q.m, coalesce(c.n, 0) - coalesce(w.n, 0)
FROM unnest(%(m)s::text[]) AS q(m)
LEFT JOIN (
    SELECT meter_id, count(*) AS n FROM readings
    WHERE meter_id = ANY(%(m)s::text[]) AND ts >= %(lo)s AND ts <= %(hi)s
    GROUP BY meter_id
) c ON c.meter_id = q.m
LEFT JOIN (
    SELECT latest.meter_id, count(*) AS n
    FROM (SELECT DISTINCT ON (meter_id, ts) meter_id, ts, replacement_wh
          FROM reading_withdrawals
          WHERE meter_id = ANY(%(m)s::text[]) AND ts >= %(lo)s AND ts <= %(hi)s
          ORDER BY meter_id, ts, withdrawal_id DESC) latest
    JOIN readings r ON r.meter_id = latest.meter_id AND r.ts = latest.ts
    WHERE latest.replacement_wh IS NULL
    GROUP BY latest.meter_id
) w ON w.meter_id = q.m
"""


def count_in_spans(conn: psycopg.Connection[Any], spans: Sequence[Span]) -> list[int]:
    """For each (meter_id, first, last), in order: how many readings in force the meter has
    in [first, last] (one statement per distinct (first, last))."""
    by_bounds: dict[tuple[datetime, datetime], list[str]] = {}
    for meter_id, lo, hi in spans:
        by_bounds.setdefault((lo, hi), []).append(meter_id)
    counts: dict[tuple[str, datetime, datetime], int] = {}
    for (lo, hi), meter_ids in by_bounds.items():
        ids = list(dict.fromkeys(meter_ids))
        rows = conn.execute(_COUNT, {"m": ids, "lo": lo, "hi": hi}).fetchall()
        counts.update({(r[0], lo, hi): int(r[1]) for r in rows})
    return [counts[span] for span in spans]
