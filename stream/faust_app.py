"""The Faust engine: the stream's processing loop on Kafka (`pts stream worker`).

Consumes `readings.raw` (key = meter_id, value = ReadingBatch JSON as raw bytes) in one
consumer group; Kafka partitions by meter, so each meter's readings stay ordered on one
worker, and the rollups are recomputed from stored readings, so adding or losing a worker
changes no total.

Checkpoint order for each buffer of events (up to `max_batch` taken within `within_s`):
1. run the processing loop on the buffer (stream.processing: decode, registry refresh,
   triage, and persist all of it in one database transaction), retrying with backoff while
   the database is unavailable — the events are not acknowledged meanwhile;
2. produce each reject to `readings.dead-letter` (value = the original payload, reason in the
   headers) and wait for the broker's ack;
3. only then does the agent ask for the next buffer, which acknowledges these events
   (`Stream.take_events` acks after the consumer resumes); Faust commits acknowledged
   offsets in the background.
With `concurrency` > 1 several buffers of one worker are in flight at once and may commit
out of offset order; totals do not depend on order (rollups are recomputed from the stored
readings under per-meter locks) and Faust commits an offset only when every event below it
is acknowledged.
A crash between 1 and 3 redelivers the event: the database side is idempotent (writer,
rollups, dead_letters keyed by topic/partition/offset); the dead-letter topic may then hold a
reject twice (at least once).

Poison: an event that passed every check but still fails to store is isolated and parked as a
`processing_failed` dead letter after a bounded number of attempts (stream.persist), so it
never blocks its partition. Only a failure outside any one message (the dead-letter topic
refusing a record) ends the process at once (`os._exit`) rather than let Faust acknowledge
an event that was not stored.

Dead letters of ingest: the bridge and the DAS intake produce their refusals to the
dead-letter topic with a header `origin` (`bridge`, `das-intake`); a second agent records
those in `dead_letters` (keyed by their own topic/partition/offset), so status and redrive
see every refusal, not only the stream's.

This module adds only what Kafka needs to the loop the in-process engine runs too: buffers of
events, their topic/partition/offset as origins, the dead-letter topic, the commit order.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import faust
import psycopg
import structlog

from pts.kafka_config import KafkaConnection
from storage import dead_letter_store
from stream.core import Reject
from stream.liveness import Watchdog
from stream.metrics import LAG_INTERVAL_S, WorkerMetrics
from stream.persist import Origin, WorkLimits, connect_store
from stream.processing import Message, Processor, back_off
from stream.stages import Limits
from stream.status import committed_offsets, dead_letters_waiting, end_offsets

log = structlog.get_logger(__name__)

EXIT_CRASHED = 70  # EX_SOFTWARE: an unexpected error; nothing was acknowledged
DEAD_LETTER_RECORD_BYTES = 900_000  # a dead-letter record's payload at most (Kafka: 1 MiB)
INGEST_ORIGINS = frozenset({"bridge", "das-intake"})


def make_app(
    app_id: str,
    bootstrap: str,
    datadir: Path,
    session_timeout_s: float = 10.0,
    connection: KafkaConnection | None = None,
) -> Any:
    """The Faust app with the stream worker's settings (bench/faust_consume.py measures it);
    `connection` (pts.kafka_config) carries the security, else `bootstrap` is used plainly."""
    datadir.mkdir(parents=True, exist_ok=True)
    connection = connection or KafkaConnection(bootstrap)
    return faust.App(
        app_id,
        broker=connection.faust_broker(),
        broker_credentials=connection.faust_credentials(),
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        datadir=str(datadir),
        store="memory://",
        broker_session_timeout=session_timeout_s,
        broker_heartbeat_interval=min(3.0, session_timeout_s / 3),
        # Commit acknowledged offsets once a second (and every 10,000 events): committing
        # every 100 events stalled the consumer on each commit and halved what Faust
        # delivers (bench/faust_consume.py); a crash redelivers at most a second of
        # events, which the database side absorbs (idempotent writer and rollups).
        broker_commit_every=10_000,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # No standby replicas: the worker keeps no tables. With Faust's default (1) its
        # sticky assignor keeps each member at up to ceil(partitions / members), so a third
        # worker joining two that hold 2 of 4 partitions each got none and sat idle
        # (tests/integration/ops/test_scale_out.py); with 0 it rebalances to at least one
        # partition per member.
        table_standby_replicas=0,
    )


class FaustEngine:
    """Wires the core, the database and the Kafka topics into one Faust app."""

    def __init__(
        self,
        *,
        app_id: str,
        bootstrap: str,
        database_url: str,
        readings_topic: str,
        dead_letter_topic: str,
        datadir: Path,
        session_timeout_s: float = 10.0,
        max_batch: int = 500,
        within_s: float = 0.2,
        concurrency: int = 1,
        limits: Limits | None = None,
        work: WorkLimits | None = None,
        connection: KafkaConnection | None = None,
        stall_exit_s: float = 0.0,
    ) -> None:
        self.limits = limits or Limits()
        self.stall_exit_s = stall_exit_s  # stream.liveness; 0: no watchdog
        self.buffers_taken = 0  # the watchdog's sign of the worker's own work
        self.work = work or WorkLimits()
        self.database_url = database_url
        self.max_batch = max_batch
        self.within_s = within_s
        self.connection = connection or KafkaConnection(bootstrap)
        self.app = make_app(app_id, bootstrap, datadir, session_timeout_s, self.connection)
        self.readings = self.app.topic(
            readings_topic, key_type=bytes, value_type=bytes, allow_empty=True
        )
        self.dead_letters = self.app.topic(dead_letter_topic, key_type=bytes, value_type=bytes)
        self.app.agent(self.readings, name="process_readings", concurrency=concurrency)(self._agent)
        self.app.agent(self.dead_letters, name="record_ingest_dead_letters")(
            self._record_ingest_dead_letters
        )
        self.metrics = WorkerMetrics()
        self._group, self._bootstrap, self._topic = app_id, bootstrap, readings_topic
        self.app.timer(LAG_INTERVAL_S)(self._measure)

    async def _measure(self) -> None:
        """Consumer lag per partition and dead letters waiting, for the metrics."""
        try:
            ends = await end_offsets(self.connection, self._topic)
            committed = await committed_offsets(self.connection, self._group, self._topic)
            self.metrics.set_lag(self._topic, committed, ends)
            aconn = await self._connect()
            try:
                self.metrics.set_dead_letters(await dead_letters_waiting(aconn))
            finally:
                await aconn.close()
        except Exception as exc:  # a measurement must never stop the worker
            log.warning("metrics_measure_failed", error=str(exc))

    async def _record_ingest_dead_letters(self, stream: Any) -> None:
        """Record the bridge's and the DAS intake's dead letters in `dead_letters` (idempotent
        per topic/partition/offset); the stream's own are there already and are skipped."""
        aconn = await self._connect()
        try:
            async for event in stream.events():
                row = ingest_dead_letter_row(event.headers, event.value or b"")
                if row is None:
                    continue
                origin, dead = row
                message = event.message
                delay = 0.5
                while True:
                    try:
                        await dead_letter_store.record_dead_letters(
                            aconn, [dead], message.topic, message.partition, message.offset,
                            origin,
                        )  # fmt: skip
                        break
                    except psycopg.OperationalError as exc:
                        aconn, delay = await back_off(aconn, delay, exc, self._connect)
        finally:
            await aconn.close()

    async def _agent(self, stream: Any) -> None:
        """Take buffers of events, run the processing loop on each (retrying while the
        database is unavailable) and produce its rejects to the dead-letter topic; taking
        the next buffer acknowledges this one (module docstring)."""
        processor = Processor(
            self.database_url, limits=self.limits, work=self.work, metrics=self.metrics
        )
        await processor.start()
        try:
            async for events in stream.take_events(self.max_batch, within=self.within_s):
                self.buffers_taken += 1
                messages = [
                    Message(
                        e.value or b"",
                        e.key,
                        Origin(e.message.topic, e.message.partition, e.message.offset),
                    )
                    for e in events
                ]
                try:
                    done = await processor.process_until_stored(messages)
                    for (triage, origin), event in zip(done.triaged, events, strict=True):
                        await self._send_dead_letters(triage.rejects, origin, event.key)
                except Exception:  # any escape would let Faust acknowledge the events
                    log.exception("worker_crashed", topic=messages[0].origin.topic)
                    os._exit(EXIT_CRASHED)
        finally:
            await processor.close()

    def watchdog(self) -> Watchdog:
        """The liveness watchdog of this worker (stream.liveness): it exits the process when
        the worker stops consuming a partition that has lag for `stall_exit_s`."""

        async def measure() -> tuple[dict[int, int], dict[int, int]]:
            ends = await end_offsets(self.connection, self._topic)
            return await committed_offsets(self.connection, self._group, self._topic), ends

        def held() -> frozenset[int]:
            consumer = getattr(self.app, "_consumer", None)  # never create it from here
            try:
                assigned = consumer.assignment() if consumer is not None else set()
            except Exception:  # not started yet
                return frozenset()
            return frozenset(tp.partition for tp in assigned if tp.topic == self._topic)

        def work() -> int:
            retries = self.metrics.registry.get_sample_value(
                "pts_stream_database_unavailable_total"
            )
            return self.buffers_taken + int(retries or 0)

        return Watchdog(
            stall_exit_s=self.stall_exit_s,
            interval_s=max(1.0, min(LAG_INTERVAL_S, self.stall_exit_s / 4)),
            measure=measure,
            held=held,
            work=work,
        )

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await connect_store(self.database_url, self.work)

    async def _send_dead_letters(
        self, rejects: list[Reject], origin: Origin, key: bytes | None
    ) -> None:
        """Produce each reject (original payload, reason in headers); wait for the acks."""
        for n, reject in enumerate(rejects):
            ordinal = n if reject.ordinal is None else reject.ordinal
            headers = {
                "reason_code": reject.code.value.encode(),
                "reason": reject.reason.encode(),
                "source_topic": origin.topic.encode(),
                "source_partition": str(origin.partition).encode(),
                "source_offset": str(origin.offset).encode(),
                "ordinal": str(ordinal).encode(),
                "origin": b"stream",
            }
            if reject.payload_sha256 is not None:
                headers["payload_sha256"] = reject.payload_sha256.encode()
                headers["payload_bytes"] = str(reject.payload_bytes).encode()
            payload = reject.payload
            if len(payload) > DEAD_LETTER_RECORD_BYTES:  # the database keeps more of it
                headers["payload_sha256"] = hashlib.sha256(payload).hexdigest().encode()
                headers["payload_bytes"] = str(len(payload)).encode()
                payload = payload[:DEAD_LETTER_RECORD_BYTES]
            dead_key = reject.meter_id.encode() if reject.meter_id else key
            pending = await self.dead_letters.send(key=dead_key, value=payload, headers=headers)
            await pending


def ingest_dead_letter_row(
    headers: Mapping[str, bytes] | Sequence[tuple[str, bytes]] | None, value: bytes
) -> tuple[str, dead_letter_store.DeadLetterRow] | None:
    """(origin, row) of a dead-letter record the bridge or the DAS intake produced; None for
    the stream's own records (already in the table) and anything else."""
    found = dict(headers.items() if isinstance(headers, Mapping) else headers or ())
    origin = found.get("origin", b"bridge" if "mqtt_topic" in found else b"").decode(
        errors="replace"
    )
    if origin not in INGEST_ORIGINS:
        return None
    text = {k: v.decode(errors="replace") for k, v in found.items()}
    where = text.get("mqtt_topic") or text.get("das_report_id")
    reason = text.get("reason", "")
    if where:
        reason = f"{reason} [{'topic' if 'mqtt_topic' in text else 'report'} {where}]"
    size = text.get("payload_bytes", "")
    return origin, (
        text.get("reason_code", "unknown"),
        reason,
        value,
        0,
        text.get("payload_sha256"),
        int(size) if size.isdigit() else None,
    )


def run_worker(engine: FaustEngine, loglevel: str = "info") -> None:
    """Run the Faust worker in this process until it is stopped (SIGTERM/SIGINT).

    The worker allocates many short-lived objects (a model per reading) and holds few
    cycles: the modules and settings loaded so far are frozen out of the collector and the
    youngest generation is collected every 50,000 allocations instead of 700 (measured on
    the worker's decode, validation and storage path without Faust: with the collector off
    it ran about 15% faster, so the default thresholds cost that much).
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    if engine.stall_exit_s > 0:
        engine.watchdog().start()
    worker = faust.Worker(engine.app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
