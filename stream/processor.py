"""One message through the core: decode, validate, store, recompute the touched days.

Order, in one database transaction, so a crash leaves either all of it or none of it:
1. decode the bytes (refusal → dead letter with the original payload);
2. run the validation stages per reading (refusals → dead letter, one per reading);
3. write the accepted readings idempotently (storage.writer);
4. for each meter with new readings, recompute exactly the local days whose energy they
   change (from the stored readings, with one neighbour on each side) and the months of
   those days.
The caller commits its input (Kafka offset, MQTT ack) only after this returns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import structlog

from schemas.reading import QualityFlag, Reading
from storage import energy_store
from storage.writer import write_readings
from stream.calendar import daily_energy, local_day, local_midnight, month_start
from stream.decode import decode_batch
from stream.directory import MeterDirectory, MeterInfo, StaticDirectory
from stream.energy import RegisterPoint, intervals
from stream.errors import ReasonCode, RejectedError
from stream.stages import Stage, default_pipeline, run_pipeline

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Outcome:
    """What one message did."""

    new: int = 0
    duplicate: int = 0
    conflict: int = 0
    rejected: list[tuple[ReasonCode, str]] = field(default_factory=list)


def load_directory(conn: psycopg.Connection[Any]) -> StaticDirectory:
    """The registry's meters as the stream sees them."""
    return StaticDirectory(
        MeterInfo(r[0], r[1], r[2], Decimal(r[3]), r[4], r[5])
        for r in energy_store.load_directory_rows(conn)
    )


class ReloadingDirectory:
    """A registry snapshot that reloads itself when asked for a meter it does not know."""

    def __init__(self, conn: psycopg.Connection[Any], min_interval: float = 5.0) -> None:
        import time

        self._conn = conn
        self._clock = time.monotonic
        self._min_interval = min_interval
        self._snapshot = load_directory(conn)
        self._loaded_at = self._clock()

    def get(self, meter_id: str) -> MeterInfo | None:
        found = self._snapshot.get(meter_id)
        if found is None and self._clock() - self._loaded_at >= self._min_interval:
            self._snapshot = load_directory(self._conn)
            self._loaded_at = self._clock()
            found = self._snapshot.get(meter_id)
        return found


class BatchProcessor:
    """The shared core as one callable per message, configured once."""

    def __init__(self, directory: MeterDirectory, stages: Sequence[Stage] | None = None) -> None:
        self._directory = directory
        self._stages = list(stages) if stages is not None else default_pipeline(directory)

    def process(
        self,
        conn: psycopg.Connection[Any],
        payload: bytes,
        origin: str,
        key: bytes | None = None,
    ) -> Outcome:
        outcome = Outcome()
        with conn.transaction():
            try:
                batch = decode_batch(payload)
            except RejectedError as exc:
                self._dead_letter(conn, outcome, exc, origin, payload)
                return outcome
            accepted: list[Reading] = []
            for reading in batch.readings:
                try:
                    if key is not None and key.decode(errors="replace") != reading.meter_id:
                        raise RejectedError(
                            ReasonCode.KEY_MISMATCH,
                            f"message key {key!r} but reading of meter {reading.meter_id!r}",
                        )
                    run_pipeline(self._stages, reading)
                except RejectedError as exc:
                    body = reading.model_dump_json().encode()
                    self._dead_letter(conn, outcome, exc, origin, body)
                    continue
                accepted.append(reading)
            if accepted:
                result = write_readings(conn, accepted)
                outcome.new, outcome.duplicate = result.new, result.duplicate
                outcome.conflict = result.conflict
                self.recompute(conn, result.new_readings)
        return outcome

    def recompute(self, conn: psycopg.Connection[Any], new_readings: Sequence[Reading]) -> None:
        """Recompute the local days (and their months) that new readings change."""
        by_meter: dict[str, list[Reading]] = defaultdict(list)
        for reading in new_readings:
            by_meter[reading.meter_id].append(reading)
        for meter_id, readings in by_meter.items():
            info = self._directory.get(meter_id)
            if info is None:  # pragma: no cover - stages refuse unknown meters first
                continue
            tz = ZoneInfo(info.timezone)
            lo = min(r.ts for r in readings)
            hi = max(r.ts for r in readings)
            before, after = energy_store.neighbours(conn, meter_id, lo, hi)
            first_day = local_day(before or lo, tz)
            last_day = local_day(after or hi, tz)
            rows = energy_store.points(
                conn,
                meter_id,
                local_midnight(first_day, tz),
                local_midnight(last_day + timedelta(days=1), tz),
            )
            points = [
                RegisterPoint(ts, wh, event, modulus, QualityFlag.RESET.value in flags)
                for ts, wh, event, modulus, flags in rows
            ]
            days = daily_energy(intervals(points), tz, (first_day, last_day))
            energy_store.upsert_days(
                conn,
                meter_id,
                [
                    (d, e.energy_wh, e.intervals, sorted(f.value for f in e.flags))
                    for d, e in days.items()
                ],
            )
            energy_store.refresh_months(conn, meter_id, {month_start(d) for d in days})

    @staticmethod
    def _dead_letter(
        conn: psycopg.Connection[Any],
        outcome: Outcome,
        exc: RejectedError,
        origin: str,
        payload: bytes,
    ) -> None:
        energy_store.record_dead_letter(conn, exc.code.value, exc.reason, origin, payload)
        outcome.rejected.append((exc.code, exc.reason))
        log.warning(
            "reading_rejected", reason_code=exc.code.value, reason=exc.reason, origin=origin
        )
