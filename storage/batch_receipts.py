"""Batch receipts (migration 015): the parts of batches stored, and batch ids reused.

Rows only; stream.batch_ids decides what a part is and stream.batch_receipts calls these in
the transaction that writes the readings, so a redelivered message finds its own receipt.
A part row is (source_id, batch_id, meter_id, first_seq, last_seq, readings, digest, first_ts,
last_ts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

PartRow = tuple[str, str, str, int, int, int, str, datetime, datetime]
# (source_id, batch_id, meter_id, first_ts, last_ts, detail)
ReuseRow = tuple[str, str, str, datetime, datetime, str]

_STORED = """
SELECT r.source_id, r.batch_id, r.meter_id, r.first_seq, r.last_seq, r.readings, r.digest,
       r.first_ts, r.last_ts
FROM batch_receipts r
JOIN unnest(%s::text[], %s::text[], %s::text[]) AS k(source_id, batch_id, meter_id)
  USING (source_id, batch_id, meter_id)
"""
_INSERT = """
INSERT INTO batch_receipts (source_id, batch_id, meter_id, first_seq, last_seq, readings, digest,
    first_ts, last_ts)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[],
    %s::integer[], %s::text[], %s::timestamptz[], %s::timestamptz[])
ON CONFLICT DO NOTHING
"""
_REUSED = """
INSERT INTO provenance_findings (kind, source_id, batch_id, meter_id, first_ts, last_ts, detail)
SELECT 'batch_id_reused', * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[],
    %s::timestamptz[], %s::text[])
"""


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


async def stored_parts(
    aconn: psycopg.AsyncConnection[Any], keys: Sequence[tuple[str, str, str]]
) -> list[PartRow]:
    """The stored parts of these (source_id, batch_id, meter_id)s."""
    if not keys:
        return []
    cur = await aconn.execute(_STORED, _columns(keys, 3))
    return [tuple(row) for row in await cur.fetchall()]


async def insert_parts(aconn: psycopg.AsyncConnection[Any], rows: Sequence[PartRow]) -> None:
    if rows:
        await aconn.execute(_INSERT, _columns(rows, 9))


async def insert_reuses(aconn: psycopg.AsyncConnection[Any], rows: Sequence[ReuseRow]) -> None:
    """One `batch_id_reused` provenance finding per row."""
    if rows:
        await aconn.execute(_REUSED, _columns(rows, 6))
