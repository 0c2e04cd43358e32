"""Retention of batch receipts (migration 015): which receipts may go, and removing them.

A receipt (stream.batch_ids) lets the stream tell a redelivered message (`again`) from a batch
id reused with other readings (`batch_id_reused`). It is kept while the readings it covers
are still in play, and may be removed once every local month its readings span (first_ts to
last_ts, in the meter's system's time zone) is *settled* for that system:
- the month is closed (`month_closes`), and was closed at least the margin ago
  (`PTS_BATCH_RECEIPT_RETENTION_DAYS`): late readings of a closed month are recounted by the
  next close, amendments and audits follow it;
- it is not held (`held_by` empty), or its hold was released (`month_releases`);
and the receipt itself was received at least the margin ago (a late delivery into a settled
month keeps its receipt for the margin, as long as Kafka may redeliver it).
A receipt of a meter that is not registered (or has no system) is never removed.

Removing a receipt weakens nothing for data still in play: after it, a redelivery of that
batch is judged `new` and its readings are duplicates (stored once, by key), and a replay with
old sequence numbers and new timestamps is still a sequence anomaly (stream.sequence), which
looks at the stored readings, not at receipts.

Signed batches (migration 013) are not pruned: they are the evidence `pts provenance` checks
certificates against, for as long as the certificates exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

# receipts whose every month is settled before the cutoff, and received before it
_PRUNABLE = """
SELECT r.source_id, r.batch_id, r.meter_id, r.first_seq
FROM batch_receipts r
JOIN meters m ON m.meter_id = r.meter_id
JOIN systems s ON s.system_id = m.system_id
WHERE r.received_at <= %(cutoff)s
  AND NOT EXISTS (
      SELECT 1
      FROM generate_series(date_trunc('month', r.first_ts AT TIME ZONE s.timezone),
                           date_trunc('month', r.last_ts AT TIME ZONE s.timezone),
                           interval '1 month') AS g(month_start)
      WHERE NOT EXISTS (
          SELECT 1 FROM month_closes c
          WHERE c.system_id = s.system_id
            AND c.month = to_char(g.month_start, 'YYYY-MM')
            AND c.closed_at <= %(cutoff)s
            AND (c.held_by = '{}' OR EXISTS (
                SELECT 1 FROM month_releases l
                WHERE l.system_id = c.system_id AND l.month = c.month))))
LIMIT %(limit)s
"""
_COUNT = f"SELECT count(*) FROM ({_PRUNABLE.replace('LIMIT %(limit)s', '')}) p"
_DELETE = f"""
DELETE FROM batch_receipts
WHERE (source_id, batch_id, meter_id, first_seq) IN ({_PRUNABLE})
"""
_TOTAL = "SELECT count(*) FROM batch_receipts"


@dataclass(frozen=True, slots=True)
class Pruned:
    """What a prune did (or, dry, would do): receipts removed and receipts kept."""

    removed: int
    kept: int
    cutoff: datetime


def cutoff(now: datetime, retention_days: int) -> datetime:
    """The instant before which a month must have been closed and a receipt received."""
    if retention_days < 1:
        raise ValueError(f"retention of {retention_days} days: give at least 1 day")
    return now - timedelta(days=retention_days)


def prune_batch_receipts(
    conn: psycopg.Connection[Any],
    now: datetime,
    retention_days: int,
    dry_run: bool = False,
    chunk: int = 10_000,
) -> Pruned:
    """Remove the receipts the rule above lets go, `chunk` rows per transaction (a long
    prune never holds a long lock on the stream's table); `dry_run` only counts them."""
    limit = cutoff(now, retention_days)
    removed = 0
    if dry_run:
        row = conn.execute(_COUNT, {"cutoff": limit}).fetchone()
        removed = int(row[0]) if row else 0
    else:
        while True:
            with conn.transaction():
                done = conn.execute(_DELETE, {"cutoff": limit, "limit": chunk}).rowcount
            removed += done
            if done < chunk:
                break
    total = conn.execute(_TOTAL).fetchone()
    left = int(total[0]) if total else 0
    return Pruned(removed, left - removed if dry_run else left, limit)
