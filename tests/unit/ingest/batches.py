"""Reading batches for the ingest tests (not a test module)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.reading import Reading, ReadingBatch, Source

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_batch(
    meters: list[str],
    source: Source = Source.GATEWAY,
    source_id: str = "gw-1",
    per_meter: int = 2,
    batch_id: str = "b-1",
) -> ReadingBatch:
    readings = [
        Reading(
            meter_id=meter_id,
            ts=T0 + timedelta(minutes=15 * i),
            energy_wh=1_000 + 10 * i,
            source=source,
            source_id=source_id,
            seq=i,
            received_at=T0 + timedelta(minutes=15 * i, seconds=1),
        )
        for meter_id in meters
        for i in range(per_meter)
    ]
    return ReadingBatch(
        batch_id=batch_id, source=source, source_id=source_id, sent_at=T0, readings=tuple(readings)
    )


def batch_json(batch: ReadingBatch) -> bytes:
    return batch.model_dump_json().encode()
