"""Record the batch parts of a transaction's messages (stream.batch_ids decides, storage.
batch_receipts stores): three statements whatever the number of messages. Called by
stream.persist inside the transaction that writes the readings."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import psycopg
import structlog

from storage import batch_receipts
from stream.batch_ids import BatchPart, Judgement, judge

log = structlog.get_logger(__name__)


async def record_parts(aconn: psycopg.AsyncConnection[Any], parts: Sequence[BatchPart]) -> int:
    """Store the receipts of new parts and record each reused batch id; returns the reuses.
    Parts are judged against the stored ones and against the earlier ones of this call."""
    if not parts:
        return 0
    keys = sorted({(p.source_id, p.batch_id, p.meter_id) for p in parts})
    stored: dict[tuple[str, str, str], list[BatchPart]] = {}
    for row in await batch_receipts.stored_parts(aconn, keys):
        part = BatchPart(*row)
        stored.setdefault((part.source_id, part.batch_id, part.meter_id), []).append(part)
    new: list[BatchPart] = []
    reused: list[tuple[BatchPart, BatchPart]] = []
    for part in parts:
        known = stored.setdefault((part.source_id, part.batch_id, part.meter_id), [])
        verdict, earlier = judge(part, known)
        if verdict is Judgement.NEW:
            new.append(part)
            known.append(part)
        elif verdict is Judgement.REUSED and earlier is not None:
            reused.append((part, earlier))
    await batch_receipts.insert_parts(aconn, [dataclasses.astuple(p) for p in new])
    await batch_receipts.insert_reuses(
        aconn,
        [(p.source_id, p.batch_id, p.meter_id, p.first_ts, p.last_ts, _detail(p, e))
         for p, e in reused],
    )  # fmt: skip
    for part, _ in reused:
        log.warning(
            "batch_id_reused", source_id=part.source_id, batch_id=part.batch_id,
            meter_id=part.meter_id, first_seq=part.first_seq, last_seq=part.last_seq,
        )  # fmt: skip
    return len(reused)


def _detail(part: BatchPart, earlier: BatchPart) -> str:
    return (
        f"batch {part.batch_id} of {part.source_id} was already stored for meter "
        f"{part.meter_id} with other readings (seq {earlier.first_seq}-{earlier.last_seq}, "
        f"{earlier.first_ts.isoformat()} to {earlier.last_ts.isoformat()}); it came again with "
        f"seq {part.first_seq}-{part.last_seq} from {part.first_ts.isoformat()} to "
        f"{part.last_ts.isoformat()}: stored, and recorded here (a replay, or a source reusing "
        "batch ids)"
    )
