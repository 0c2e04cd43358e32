"""The I/O edge of the core: store triaged messages in one database transaction.

Order, in one transaction, so a crash leaves either all of it or none of it:
1. record the rejects in `dead_letters` (idempotent per Kafka source position);
2. record the receipts of verified signed batches (`signed_batches`; one already stored is
   a `replayed_batch` finding) and of every batch's parts (`batch_receipts`; a batch id back
   with other readings is a `batch_id_reused` finding, stream.batch_ids); write the readings
   to keep through storage.writer (COPY +
   ON CONFLICT: redelivery is a no-op, a repeated key with other content lands in
   `reading_conflicts`);
3. lock each meter with new readings (advisory, sorted) and recompute exactly the local days
   their energy changes and the months of those days (stream.rollup), from stored readings;
4. commit. Only then may the engine acknowledge its input (Kafka offset, queue item).
Transient database failures are retried with backoff (`persist_with_retry`); the input is
not acknowledged meanwhile.

A message that passed every check and still fails to store (the database refuses a value,
a statement or lock timeout, a bug) must not block its partition (`persist_isolating`): the
failing batch is bisected — messages, then the readings of one message — until the failure
is one reading (or one message without readings); that one is tried again up to
`WorkLimits.max_attempts` times in all, then parked as a `processing_failed` dead letter
with the error, and everything else is stored. Losing the database connection is not a
failure of the message: it raises StoreUnavailableError and the engine reconnects and
retries the whole batch, without acknowledging it.

Every connection of the engines carries `statement_timeout` and `lock_timeout`
(`connect_store`), so no statement holds a transaction open for long.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import psycopg
import structlog

from schemas.reading import Reading
from storage import (
    dead_letter_store,
    provenance_store,
    sequence_store,
)
from storage.writer import write_readings_async
from stream import batch_ids, batch_receipts, sequence
from stream.core import Reject, Triage
from stream.directory import MeterDirectory
from stream.energy import DEFAULT_POWER_TOLERANCE
from stream.errors import ReasonCode, StoreUnavailableError
from stream.rollup_refresh import refresh_rollups_async
from stream.signatures import BatchReceipt

log = structlog.get_logger(__name__)


PARKED_ORDINAL_BASE = 10_000  # ordinal of a parked reading = this + its index in the message
MAX_ERROR_CHARS = 500  # of the error quoted in a parked dead letter's reason


@dataclass(frozen=True, slots=True)
class WorkLimits:
    """How long one statement or lock wait may take, and how often a message is tried
    before it is parked (settings PTS_STREAM_STATEMENT_TIMEOUT_S, _LOCK_TIMEOUT_S,
    _MAX_ATTEMPTS)."""

    statement_timeout_s: float = 60.0
    lock_timeout_s: float = 10.0
    max_attempts: int = 3
    first_retry_delay_s: float = 0.2


async def connect_store(
    database_url: str, work: WorkLimits | None = None
) -> psycopg.AsyncConnection[Any]:
    """An autocommit connection whose statements and lock waits are bounded in time, and
    whose commits are durable whatever the server's default: a commit here is what lets the
    engine acknowledge its input (Kafka offsets), so a server crash after it must not lose it
    (synchronous_commit = off lost an acknowledged batch to a postmaster SIGKILL)."""
    work = work or WorkLimits()
    aconn = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    await aconn.execute(
        "SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false),"
        " set_config('synchronous_commit', 'on', false)",
        (f"{round(work.statement_timeout_s * 1000)}ms", f"{round(work.lock_timeout_s * 1000)}ms"),
    )
    return aconn


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message came from (Kafka position, or a label such as 'inprocess')."""

    topic: str
    partition: int | None = None
    offset: int | None = None


@dataclass(slots=True)
class Outcome:
    """What one message did."""

    new: int = 0
    duplicate: int = 0
    conflict: int = 0
    rejects: list[Reject] = field(default_factory=list)


async def persist(
    aconn: psycopg.AsyncConnection[Any],
    directory: MeterDirectory,
    messages: Sequence[tuple[Triage, Origin]],
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE,
) -> Outcome:
    """Store the sortings of one or more messages in one transaction and recompute the
    rollups they touch once (see the module docstring); the outcome sums them."""
    outcome = Outcome()
    to_write: list[Reading] = []
    async with aconn.transaction():
        for triage, origin in messages:
            outcome.duplicate += triage.duplicates
            outcome.rejects += triage.rejects
            to_write += triage.to_write
            if triage.rejects:
                await dead_letter_store.record_dead_letters(
                    aconn,
                    [
                        (
                            r.code.value,
                            r.reason,
                            r.payload,
                            n if r.ordinal is None else r.ordinal,
                            r.payload_sha256,
                            r.payload_bytes,
                        )
                        for n, r in enumerate(triage.rejects)
                    ],
                    origin.topic,
                    origin.partition,
                    origin.offset,
                )
        receipts = [receipt_row(s.receipt) for s, _ in messages if s.receipt is not None]
        if receipts:
            await provenance_store.record_receipts(aconn, receipts)
        parts = [
            part
            for s, _ in messages
            if s.batch_key is not None
            for part in batch_ids.parts_of(*s.batch_key, s.to_write)
        ]
        await batch_receipts.record_parts(aconn, parts)  # a reused batch id is a finding
        if to_write:
            result = await write_readings_async(aconn, to_write)
            outcome.new = result.new
            outcome.duplicate += result.duplicate
            outcome.conflict = result.conflict
            await record_sequence_anomalies(aconn, result.new_readings)
            await refresh_rollups_async(aconn, directory, result.new_readings, power_tolerance)
    for triage, origin in messages:
        for reject in triage.rejects:
            log.warning(
                "reading_rejected",
                reason_code=reject.code.value,
                reason=reject.reason,
                meter_id=reject.meter_id,
                topic=origin.topic,
                partition=origin.partition,
                offset=origin.offset,
            )
    return outcome


def receipt_row(r: BatchReceipt) -> provenance_store.ReceiptRow:
    """The `signed_batches` row of a verified batch's receipt."""
    return (
        r.source, r.source_id, r.batch_id, r.meter_id, r.key_id, r.sent_at, r.signature,
        min(r.ts), max(r.ts), list(r.ts), list(r.seqs), list(r.prev_hashes), list(r.hashes),
    )  # fmt: skip


async def record_sequence_anomalies(
    aconn: psycopg.AsyncConnection[Any], new_readings: Sequence[Reading]
) -> None:
    """Record the new readings whose sequence number did not increase (stream.sequence)."""
    if not new_readings:
        return
    await sequence_store.record_sequence_anomalies(
        aconn,
        [
            (r.meter_id, r.ts, r.source.value, r.source_id, r.seq)
            for r in sequence.first_per_source(new_readings)
        ],
        [
            (a.meter_id, a.ts, a.source, a.source_id, a.seq, a.previous_ts, a.previous_seq)
            for a in sequence.within_batch(new_readings)
        ],
    )


async def persist_with_retry(
    aconn: psycopg.AsyncConnection[Any],
    directory: MeterDirectory,
    messages: Sequence[tuple[Triage, Origin]],
    attempts: int = 5,
    first_delay: float = 0.2,
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE,
) -> Outcome:
    """`persist`, retried with exponential backoff on deadlocks and serialization failures.

    Raises StoreUnavailableError when the connection is gone or the attempts are spent (the
    engine then stops without acknowledging; the input is redelivered on restart).
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return await persist(aconn, directory, messages, power_tolerance)
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
            log.warning("persist_retried", attempt=attempt, error=str(exc))
            await asyncio.sleep(delay)
            delay *= 2
        except psycopg.OperationalError as exc:
            if _fails_the_message(aconn, exc):
                raise
            raise StoreUnavailableError(
                f"database unavailable while storing {len(messages)} message(s): {exc}"
            ) from exc
    raise StoreUnavailableError(
        f"gave up storing {len(messages)} message(s) after {attempts} tries"
    )


def _fails_the_message(aconn: psycopg.AsyncConnection[Any], exc: BaseException) -> bool:
    """Whether an error is the message's own (try it alone, then park it) rather than the
    database's (keep the connection's batch and retry it all once the database is back).

    The database's: the connection is lost, or an operational condition of the server
    (out of disk, out of connections, shutting down). The message's: any other error, a
    statement or lock timeout included.
    """
    if not isinstance(exc, Exception) or aconn.closed or aconn.broken:
        return False
    if isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
        return True
    return not isinstance(exc, psycopg.OperationalError | StoreUnavailableError)


@dataclass(frozen=True, slots=True)
class _Unit:
    """Part of one message of a batch: its index in the batch, the triage to store (some of
    the message's readings) and the index of its first reading in the message."""

    index: int
    triage: Triage
    origin: Origin
    first: int = 0


@dataclass(slots=True)
class Isolated:
    """What `persist_isolating` stored, and the readings it parked per message index."""

    outcome: Outcome = field(default_factory=Outcome)
    parked: dict[int, list[Reject]] = field(default_factory=lambda: defaultdict(list))

    def add(self, outcome: Outcome) -> None:
        self.outcome.new += outcome.new
        self.outcome.duplicate += outcome.duplicate
        self.outcome.conflict += outcome.conflict
        self.outcome.rejects += outcome.rejects


async def persist_isolating(
    aconn: psycopg.AsyncConnection[Any],
    directory: MeterDirectory,
    messages: Sequence[tuple[Triage, Origin]],
    power_tolerance: Decimal = DEFAULT_POWER_TOLERANCE,
    work: WorkLimits | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Isolated:
    """Store the messages; park (dead-letter `processing_failed`) the readings that still
    fail after `work.max_attempts` tries, so they never block the others (module docstring).

    Raises StoreUnavailableError when the database itself is unavailable.
    """
    work = work or WorkLimits()
    done = Isolated()

    async def attempt(units: Sequence[_Unit]) -> Exception | None:
        try:
            outcome = await persist_with_retry(
                aconn, directory, [(u.triage, u.origin) for u in units],
                power_tolerance=power_tolerance,
            )  # fmt: skip
        except Exception as exc:
            if not _fails_the_message(aconn, exc):
                if isinstance(exc, StoreUnavailableError):
                    raise
                raise StoreUnavailableError(f"database unavailable: {exc}") from exc
            return exc
        done.add(outcome)
        return None

    async def isolate(units: Sequence[_Unit]) -> None:
        failure = await attempt(units)
        if failure is None:
            return
        log.warning("persist_isolating", messages=len(units), error=_describe(failure))
        if len(units) > 1:
            middle = len(units) // 2
            await isolate(units[:middle])
            await isolate(units[middle:])
            return
        unit = units[0]
        readings = unit.triage.to_write
        if len(readings) > 1:
            middle = len(readings) // 2
            head = replace(unit.triage, to_write=readings[:middle])
            tail = Triage(to_write=readings[middle:])
            await isolate(
                [
                    replace(unit, triage=head),
                    _Unit(unit.index, tail, unit.origin, unit.first + middle),
                ]
            )
            return
        delay = work.first_retry_delay_s
        for _ in range(work.max_attempts - 1):
            await sleep(delay)
            delay *= 2
            failure = await attempt(units)
            if failure is None:
                return
        await park(unit, failure)

    async def park(unit: _Unit, failure: Exception) -> None:
        reason = (
            f"storing failed {work.max_attempts} times: {_describe(failure)}; the messages "
            "behind it went on. Fix the cause, then `pts stream redrive --reason "
            "processing_failed`"
        )
        parked = [
            Reject(
                ReasonCode.PROCESSING_FAILED,
                reason,
                reading.model_dump_json().encode(),
                reading.meter_id,
                ordinal=PARKED_ORDINAL_BASE + unit.first + n,
            )
            for n, reading in enumerate(unit.triage.to_write)
        ]
        if not parked:  # a message without readings whose refusals could not be stored
            raise StoreUnavailableError(
                f"could not record the dead letters of a message: {_describe(failure)}"
            )
        triage = replace(unit.triage, to_write=[], rejects=[*unit.triage.rejects, *parked])
        failed_again = await attempt([replace(unit, triage=triage)])
        if failed_again is not None:
            raise StoreUnavailableError(
                f"could not park a failing reading: {_describe(failed_again)}"
            ) from failed_again
        done.parked[unit.index] += parked
        log.error(
            "reading_parked",
            meter_id=parked[0].meter_id,
            topic=unit.origin.topic,
            partition=unit.origin.partition,
            offset=unit.origin.offset,
            error=_describe(failure),
        )

    await isolate([_Unit(n, triage, origin) for n, (triage, origin) in enumerate(messages)])
    return done


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
