"""The DAS report intake, without an HTTP framework: bytes and headers in, an `Answer` out.

The web service (web.das) serves it as `POST /api/v1/das/reports` and, for providers
configured before the move, `POST /v1/reports`; this module holds no routing and no sockets,
so its bounds are tested with fakes of its three ports (IntakeRegistry, RecordSink,
ReportLog) and, in integration tests, through the real application.

Request: header `X-API-Key: <provider key>`; optional `Idempotency-Key` (at most 200
printable characters); body JSON (Content-Type application/json) or CSV (text/csv), see
ingest.das.intake. Answer 200 with one entry per system:
    {"reportId": "...", "statusUrl": "/api/v1/das/reports/...",
     "systems": [{"systemId", "success", "recordsInserted", "messages"}]}
`recordsInserted` counts readings Kafka acknowledged (readings.raw); the answer is sent only
after that acknowledgement. What the stream then decided per reading is at `statusUrl`.
Errors are `{"code", "message", "error"}` (`error` repeats the message for clients of the
first intake): 401 unknown key; 400 unreadable body (not JSON/CSV, nested too deep, a
systemId with a control character); 409 an Idempotency-Key used before with another body, or
still being answered; 422 nothing of the report could be accepted (each system's reasons in
`messages`); 429 over the rate of the client address or of the API key (Retry-After); 503
Kafka did not acknowledge or the database is busy (sending the same report again is safe:
with the same Idempotency-Key it is answered once; without one the stream dedupes on
(meter_id, ts) and the status shows the repeats as duplicates).

Guards, in order, so a flood costs little: the client address's rate (before any database
work), the API key (one pooled connection, `das_pool_max` at most), the key's rate, the
Idempotency-Key (a replay is answered from the log without parsing), the body's bounds
(ingest.das.intake). Refused rows and unreadable bodies of a known provider also go to the
dead-letter topic (header `origin: das-intake`, the payload bounded with its SHA-256), where
the stream worker records them for `pts stream status`. Readings travel in records of at most
`max_record_bytes`, so a large backfill fits the broker.

Order of a report: claim the report id (and the Idempotency-Key) in the log → produce the
readings and dead letters → await Kafka's acknowledgements → record the answer and each row's
outcome (with the record position that carried it) → answer. A failure to produce abandons
the claim, so a retry with the same key is processed afresh.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from aiokafka.errors import KafkaError

from ingest.das.intake import (
    EARLIEST_READING,
    FUTURE_TOLERANCE,
    MAX_RECORD_BYTES,
    IntakeLimits,
    ReportPlan,
    ReportRow,
    SystemResult,
    parse_csv_report,
    parse_json_report,
    plan_report,
    refused_rows_json,
)
from ingest.das.rate_limit import RateLimiter
from ingest.das.registry import IntakeRegistry, RegistryUnavailableError
from ingest.envelope import Outgoing
from ingest.errors import IntakeError, KafkaUnavailableError
from ingest.kafka_sink import RecordSink

log = structlog.get_logger(__name__)
API_KEY_HEADER = "X-API-Key"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 200
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_REASON_BYTES = 2_048
MAX_DEAD_LETTERS = 1_000  # per report; the systems beyond share one more
_DEAD_LETTER_HEADERS = 4_096  # room for a dead letter's headers and key
STATUS_PATH = "/api/v1/das/reports/"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IntakeGuards:
    """The intake's bounds (settings PTS_DAS_RATE_PER_KEY, PTS_DAS_RATE_PER_ADDRESS,
    PTS_INGEST_MAX_RECORD_BYTES, PTS_STREAM_EARLIEST_READING, PTS_STREAM_FUTURE_TOLERANCE_S)."""

    per_key: RateLimiter = field(default_factory=lambda: RateLimiter(2.0, 10))
    per_address: RateLimiter = field(default_factory=lambda: RateLimiter(5.0, 20))
    max_record_bytes: int = MAX_RECORD_BYTES
    earliest: datetime = EARLIEST_READING
    future: timedelta = FUTURE_TOLERANCE

    @property
    def limits(self) -> IntakeLimits:
        return IntakeLimits(self.earliest, self.future, self.max_record_bytes)


@dataclass(frozen=True, slots=True)
class Answer:
    """What to answer: status, JSON body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()
    accepted: int = 0  # readings Kafka took for this answer (a replay: none)
    refused: int = 0  # rows the intake refused


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """One row of a report as the intake left it: refused (code, reason) or sent in the
    record at (topic, partition, offset)."""

    row_no: int  # 1-based
    system_id: str
    meter_id: str | None = None
    ts: datetime | None = None
    energy_wh: int | None = None
    seq: int | None = None
    content_hash: str | None = None
    intake_code: str | None = None
    intake_reason: str | None = None
    record_topic: str | None = None
    record_partition: int | None = None
    record_offset: int | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A report id and Idempotency-Key claimed before: its body's digest and, once answered,
    the answer (status None: still being answered)."""

    report_id: str
    body_sha256: str
    status: int | None
    answer: dict[str, Any] | None


class ReportLog(Protocol):
    """Where reports, their answers and their rows' outcomes are kept (web.das_store)."""

    async def claim(
        self,
        report_id: str,
        provider_id: str,
        idempotency_key: str | None,
        body_sha256: str,
        received_at: datetime,
    ) -> Claimed | None:
        """Record a new report; None, or what an earlier report with the key left."""
        ...

    async def finish(
        self, report_id: str, status: int, answer: dict[str, Any], rows: Sequence[RowOutcome]
    ) -> None:
        """Keep the answer and every row's outcome."""
        ...

    async def abandon(self, report_id: str) -> None:
        """Forget a claim whose report could not be produced (a retry starts afresh)."""
        ...


def refusal(status: int, code: str, message: str, **headers: str) -> Answer:
    """An error answer: `{code, message}` and `error` for clients of the first intake."""
    return Answer(
        status,
        {"code": code, "message": message, "error": message},
        tuple(headers.items()),
    )


def _too_many(wait_s: float, what: str) -> Answer:
    retry = max(1, math.ceil(wait_s))
    return refusal(
        429,
        "too_many_requests",
        f"over the rate of requests for this {what}; retry in {retry} s",
        **{"Retry-After": str(retry)},
    )


def _busy(exc: Exception) -> Answer:
    return refusal(
        503,
        "registry_busy",
        f"the registry is busy ({exc}); send the report again",
        **{"Retry-After": "5"},
    )


def _idempotency_key(value: str | None) -> str | None:
    """The key as sent (None: no key); IntakeError when it is not short printable text."""
    if value is None:
        return None
    if not value or len(value) > MAX_IDEMPOTENCY_KEY or not value.isprintable():
        raise IntakeError(
            f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters "
            "(a UUID is a good one)"
        )
    return value


def _row_outcomes(plan: ReportPlan, positions: dict[int, tuple[str, int, int]]) -> list[RowOutcome]:
    """Every row of the plan: its refusal, or the reading and the record that carried it
    (`positions`: batch index → topic, partition, offset)."""
    out: list[RowOutcome] = []
    for result in plan.results.values():
        out += [
            RowOutcome(index + 1, result.system_id, intake_code=code, intake_reason=why)
            for index, code, why in result.row_refusals
        ]
    for n, (system_id, batch) in enumerate(plan.batches):
        topic, partition, offset = positions.get(n, (None, None, None))
        out += [
            RowOutcome(
                plan.row_index(r) + 1, system_id, r.meter_id, r.ts, r.energy_wh, r.seq,
                r.content_hash, None, None, topic, partition, offset,
            )
            for r in batch.readings
        ]  # fmt: skip
    return sorted(out, key=lambda o: o.row_no)


def _position(metadata: object) -> tuple[str, int, int] | None:
    """The (topic, partition, offset) of a delivered record (a fake sink gives none)."""
    topic = getattr(metadata, "topic", None)
    partition = getattr(metadata, "partition", None)
    offset = getattr(metadata, "offset", None)
    if isinstance(topic, str) and isinstance(partition, int) and isinstance(offset, int):
        return topic, partition, offset
    return None


class DasIntake:
    """Authenticate, bound, parse, check against the registry, produce, record, answer."""

    def __init__(
        self,
        registry: IntakeRegistry,
        sink: RecordSink,
        reports: ReportLog,
        clock: Callable[[], datetime] = _now,
        guards: IntakeGuards | None = None,
    ) -> None:
        self._registry = registry
        self._sink = sink
        self._reports = reports
        self._clock = clock
        self._guards = guards or IntakeGuards()

    async def provider(self, address: str, api_key: str) -> str | Answer:
        """The provider of the key, or the answer refusing the caller (address rate, key,
        key rate)."""
        wait = self._guards.per_address.take(address)
        if wait > 0:
            return _too_many(wait, "client address")
        try:
            provider_id = await self._registry.provider_for_key(api_key) if api_key else None
        except RegistryUnavailableError as exc:
            return _busy(exc)
        if provider_id is None:
            return refusal(
                401,
                "unknown_api_key",
                f"missing or unknown API key; send it in the {API_KEY_HEADER} header",
            )
        wait = self._guards.per_key.take(hashlib.sha256(api_key.encode()).hexdigest())
        if wait > 0:
            return _too_many(wait, "API key")
        return provider_id

    async def receive(
        self,
        provider_id: str,
        content_type: str,
        body: bytes,
        idempotency_key: str | None = None,
    ) -> Answer:
        """One report of an authenticated provider (see the module docstring)."""
        try:
            key = _idempotency_key(idempotency_key)
        except IntakeError as exc:
            return refusal(400, "bad_idempotency_key", str(exc))
        report_id = uuid.uuid4().hex
        received_at = self._clock()
        digest = hashlib.sha256(content_type.encode() + b"\n" + body).hexdigest()
        try:
            claimed = await self._reports.claim(report_id, provider_id, key, digest, received_at)
        except RegistryUnavailableError as exc:
            return _busy(exc)
        if claimed is not None:
            return self._replay(claimed, digest)
        try:
            answer, rows = await self._process(provider_id, report_id, content_type, body)
        except BaseException:
            await self._reports.abandon(report_id)
            raise
        try:
            if answer.status >= 500:
                await self._reports.abandon(report_id)
            else:
                await self._reports.finish(report_id, answer.status, answer.body, rows)
        except RegistryUnavailableError as exc:
            log.error("das_report_not_logged", report_id=report_id, reason=str(exc))
        return answer

    @staticmethod
    def _replay(claimed: Claimed, digest: str) -> Answer:
        if claimed.body_sha256 != digest:
            return refusal(
                409,
                "idempotency_key_reused",
                f"this {IDEMPOTENCY_HEADER} was used for another report "
                f"({claimed.report_id}) with a different body; use a new key for a new report",
            )
        if claimed.status is None or claimed.answer is None:
            return refusal(
                409,
                "report_in_progress",
                f"the report with this {IDEMPOTENCY_HEADER} ({claimed.report_id}) is still "
                "being answered; send it again in a few seconds",
                **{"Retry-After": "2"},
            )
        return Answer(claimed.status, claimed.answer, (("Idempotent-Replayed", "true"),))

    async def _process(
        self, provider_id: str, report_id: str, content_type: str, body: bytes
    ) -> tuple[Answer, list[RowOutcome]]:
        try:
            rows = self._parse(content_type, body)
        except IntakeError as exc:
            await self._dead_letter_body(provider_id, report_id, body, str(exc))
            return refusal(400, "malformed_report", str(exc)), []
        try:
            targets = await self._registry.systems({row.system_id for row in rows})
        except RegistryUnavailableError as exc:
            return _busy(exc), []
        plan = plan_report(provider_id, rows, targets, self._clock(), self._guards.limits)
        inserted: dict[str, int] = dict.fromkeys(plan.results, 0)
        positions: dict[int, tuple[str, int, int]] = {}
        try:
            deliveries = []
            for system_id, batch in plan.batches:
                record = Outgoing(
                    key=batch.readings[0].meter_id.encode(),
                    value=batch.model_dump_json().encode(),
                    headers=(("das_report_id", report_id.encode()),),
                    readings=len(batch.readings),
                )
                deliveries.append((system_id, record.readings, await self._sink.send(record)))
            refused = [r for r in plan.results.values() if r.refused]
            letters = [
                await self._sink.send(r)
                for r in self._dead_letters(provider_id, report_id, refused)
            ]
            for n, (system_id, count, delivery) in enumerate(deliveries):
                position = _position(await delivery)
                if position is not None:
                    positions[n] = position
                inserted[system_id] += count
            for letter in letters:
                await letter
        except (TimeoutError, KafkaUnavailableError, KafkaError) as exc:
            log.error("das_report_failed", provider_id=provider_id, reason=str(exc))
            answer = refusal(
                503,
                "kafka_unavailable",
                f"readings could not be stored ({exc}); send the report again",
            )
            return answer, []
        systems = [result.as_json(inserted[sid]) for sid, result in plan.results.items()]
        refused_count = sum(r.refused for r in plan.results.values())
        log.info(
            "das_report_received",
            provider_id=provider_id,
            report_id=report_id,
            systems=len(systems),
            readings=sum(inserted.values()),
            refused=refused_count,
        )
        nothing = not plan.batches and refused_count > 0
        body_out: dict[str, Any] = {
            "reportId": report_id,
            "statusUrl": STATUS_PATH + report_id,
            "systems": systems,
        }
        answer = Answer(
            422 if nothing else 200,
            body_out,
            accepted=sum(inserted.values()),
            refused=refused_count,
        )
        return answer, _row_outcomes(plan, positions)

    def _dead_letter(
        self,
        provider_id: str,
        report_id: str,
        code: str,
        reason: str,
        payload: bytes,
        key: bytes | None,
    ) -> Outgoing:
        """A bounded dead-letter record of the intake (prefix + SHA-256 when too large)."""
        headers: list[tuple[str, bytes]] = [
            ("reason_code", code.encode()),
            ("reason", reason.encode()[:MAX_REASON_BYTES]),
            ("das_report_id", report_id.encode()),
            ("provider_id", provider_id.encode()),
            ("origin", b"das-intake"),
        ]
        budget = self._guards.max_record_bytes - _DEAD_LETTER_HEADERS
        if len(payload) > budget:
            headers += [
                ("payload_sha256", hashlib.sha256(payload).hexdigest().encode()),
                ("payload_bytes", str(len(payload)).encode()),
            ]
            payload = payload[:budget]
        return Outgoing(key, payload, tuple(headers), 0, dead_letter=True)

    def _dead_letters(
        self, provider_id: str, report_id: str, refused: list[SystemResult]
    ) -> list[Outgoing]:
        """One dead letter per system with refused rows (the rows as sent, the reasons)."""
        out = [
            self._dead_letter(
                provider_id, report_id, r.code or "schema_invalid", "; ".join(r.messages),
                refused_rows_json(r), r.system_id.encode()[:128],
            )
            for r in refused[:MAX_DEAD_LETTERS]
        ]  # fmt: skip
        if len(refused) > MAX_DEAD_LETTERS:
            rest = refused[MAX_DEAD_LETTERS:]
            out.append(
                self._dead_letter(
                    provider_id, report_id, "report_refused",
                    f"{len(rest)} more systems refused; the first: " + "; ".join(rest[0].messages),
                    b"[" + b",".join(refused_rows_json(r) for r in rest) + b"]", None,
                )
            )  # fmt: skip
        return out

    async def _dead_letter_body(
        self, provider_id: str, report_id: str, body: bytes, reason: str
    ) -> None:
        """Record an unreadable body of a known provider (best effort: the answer is 400)."""
        record = self._dead_letter(provider_id, report_id, "malformed_report", reason, body, None)
        try:
            await (await self._sink.send(record))
        except (TimeoutError, KafkaUnavailableError, KafkaError) as exc:
            log.warning("das_dead_letter_failed", provider_id=provider_id, reason=str(exc))

    @staticmethod
    def _parse(content_type: str, body: bytes) -> list[ReportRow]:
        if content_type in ("text/csv", "application/csv"):
            try:
                return parse_csv_report(body.decode("utf-8-sig"))
            except UnicodeDecodeError as exc:
                raise IntakeError(f"CSV must be UTF-8: {exc}") from exc
        if content_type in ("application/json", ""):
            return parse_json_report(body)
        raise IntakeError(f"Content-Type {content_type!r}: send application/json or text/csv")
