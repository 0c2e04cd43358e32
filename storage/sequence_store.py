"""SQL for reading sequence anomalies: new readings whose per-source sequence number does not
increase (a replay with old sequence numbers and new timestamps; migration 008)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

# (meter_id, ts, source, source_id, seq) of a new reading; the same + (previous_ts,
# previous_seq) of an anomaly found among the new readings themselves
SequenceRow = tuple[str, datetime, str, str, int]
AnomalyRow = tuple[str, datetime, str, str, int, datetime, int]
_SEQUENCE_FROM_STORE = """
INSERT INTO reading_sequence_anomalies (meter_id, ts, source, source_id, seq, previous_ts,
                                        previous_seq)
SELECT q.m, q.ts, q.src, q.sid, q.seq, p.ts, p.seq
FROM unnest(%(m)b::text[], %(ts)b::timestamptz[], %(src)b::text[], %(sid)b::text[],
            %(seq)b::bigint[]) AS q(m, ts, src, sid, seq)
CROSS JOIN LATERAL (
    SELECT r.ts, r.seq, r.source, r.source_id FROM readings r
    WHERE r.meter_id = q.m AND r.ts < q.ts ORDER BY r.ts DESC LIMIT 1
) p
WHERE p.source = q.src AND p.source_id = q.sid AND p.seq >= q.seq
ON CONFLICT DO NOTHING
"""
_SEQUENCE_IN_BATCH = """
INSERT INTO reading_sequence_anomalies (meter_id, ts, source, source_id, seq, previous_ts,
                                        previous_seq)
SELECT * FROM unnest(%(m)b::text[], %(ts)b::timestamptz[], %(src)b::text[], %(sid)b::text[],
                     %(seq)b::bigint[], %(pts)b::timestamptz[], %(pseq)b::bigint[])
ON CONFLICT DO NOTHING
"""


async def record_sequence_anomalies(
    aconn: psycopg.AsyncConnection[Any],
    firsts: Sequence[SequenceRow],
    in_batch: Sequence[AnomalyRow],
) -> None:
    """Record new readings whose seq is not above their source's previous reading of the
    meter: `firsts` are compared with the stored reading just before each (one index probe
    each, whatever the source of that reading), `in_batch` were found among the new ones."""
    if firsts:
        columns = [list(c) for c in zip(*firsts, strict=True)]
        names = ("m", "ts", "src", "sid", "seq")
        await aconn.execute(_SEQUENCE_FROM_STORE, dict(zip(names, columns, strict=True)))
    if in_batch:
        columns = [list(c) for c in zip(*in_batch, strict=True)]
        more = ("m", "ts", "src", "sid", "seq", "pts", "pseq")
        await aconn.execute(_SEQUENCE_IN_BATCH, dict(zip(more, columns, strict=True)))
