"""HTTP intake of DAS reports (aiohttp): `POST /v1/reports` with JSON or CSV.

Request: header `X-API-Key: <provider key>`; body JSON (Content-Type application/json) or CSV
(Content-Type text/csv), see ingest.das.intake. Answer 200 with one entry per system:
    {"reportId": "...", "systems": [{"systemId", "success", "recordsInserted", "messages"}]}
`recordsInserted` counts readings Kafka acknowledged (readings.raw); the answer is sent only
after that acknowledgement. 401: unknown key; 400: unreadable body (not JSON/CSV, nested too
deep, a systemId with a control character); 422: nothing of the report could be accepted (each
system's reasons in `messages`); 429: over the rate of the client address or of the API key
(header Retry-After, seconds); 503: Kafka did not acknowledge or the database is busy (sending
the same report again is safe: the stream dedupes on (meter_id, ts)).

Guards, in order, so a flood costs little: the client address's rate (before any database
work), the API key (one pooled connection, `das_pool_max` at most), the key's rate, the body's
bounds (ingest.das.intake). Refused rows and unreadable bodies of a known provider also go to
the dead-letter topic (header `origin: das-intake`, the payload bounded with its SHA-256),
where the stream worker records them for `pts stream status`. Readings travel in records of
at most `max_record_bytes`, so a large backfill fits the broker.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import signal
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from aiohttp import web
from aiokafka.errors import KafkaError

from ingest.das.intake import (
    EARLIEST_READING,
    FUTURE_TOLERANCE,
    MAX_RECORD_BYTES,
    IntakeLimits,
    ReportRow,
    SystemResult,
    parse_csv_report,
    parse_json_report,
    plan_report,
    refused_rows_json,
)
from ingest.das.rate_limit import RateLimiter
from ingest.das.registry import IntakeRegistry, PostgresIntakeRegistry, RegistryUnavailableError
from ingest.envelope import Outgoing
from ingest.errors import IntakeError, KafkaUnavailableError
from ingest.kafka_sink import KafkaSink, KafkaTarget, RecordSink

log = structlog.get_logger(__name__)
API_KEY_HEADER = "X-API-Key"
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_REASON_BYTES = 2_048
MAX_DEAD_LETTERS = 1_000  # per report; the systems beyond share one more
_DEAD_LETTER_HEADERS = 4_096  # room for a dead letter's headers and key


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


def _too_many(wait_s: float, what: str) -> web.Response:
    retry = max(1, math.ceil(wait_s))
    return web.json_response(
        {"error": f"over the rate of requests for this {what}; retry in {retry} s"},
        status=429,
        headers={"Retry-After": str(retry)},
    )


class ReportHandler:
    """POST /v1/reports: authenticate, parse, check against the registry, produce, answer."""

    def __init__(
        self,
        registry: IntakeRegistry,
        sink: RecordSink,
        clock: Callable[[], datetime] = _now,
        guards: IntakeGuards | None = None,
    ) -> None:
        self._registry = registry
        self._sink = sink
        self._clock = clock
        self._guards = guards or IntakeGuards()

    async def handle(self, request: web.Request) -> web.Response:
        wait = self._guards.per_address.take(request.remote or "unknown")
        if wait > 0:
            return _too_many(wait, "client address")
        api_key = request.headers.get(API_KEY_HEADER, "")
        try:
            provider_id = await self._registry.provider_for_key(api_key) if api_key else None
        except RegistryUnavailableError as exc:
            return web.json_response(
                {"error": f"the registry is busy ({exc}); send the report again"},
                status=503,
                headers={"Retry-After": "5"},
            )
        if provider_id is None:
            return web.json_response(
                {"error": f"missing or unknown API key; send it in the {API_KEY_HEADER} header"},
                status=401,
            )
        wait = self._guards.per_key.take(hashlib.sha256(api_key.encode()).hexdigest())
        if wait > 0:
            return _too_many(wait, "API key")
        body = await request.read()
        report_id = uuid.uuid4().hex
        try:
            rows = self._parse(request.content_type, body)
        except IntakeError as exc:
            await self._dead_letter_body(provider_id, report_id, body, str(exc))
            return web.json_response({"error": str(exc)}, status=400)
        try:
            targets = await self._registry.systems({row.system_id for row in rows})
        except RegistryUnavailableError as exc:
            return web.json_response(
                {"error": f"the registry is busy ({exc}); send the report again"},
                status=503,
                headers={"Retry-After": "5"},
            )
        plan = plan_report(provider_id, rows, targets, self._clock(), self._guards.limits)
        inserted: dict[str, int] = dict.fromkeys(plan.results, 0)
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
            for system_id, count, delivery in deliveries:
                await delivery
                inserted[system_id] += count
            for letter in letters:
                await letter
        except (TimeoutError, KafkaUnavailableError, KafkaError) as exc:
            log.error("das_report_failed", provider_id=provider_id, reason=str(exc))
            return web.json_response(
                {"error": f"readings could not be stored ({exc}); send the report again"},
                status=503,
            )
        answer = [result.as_json(inserted[sid]) for sid, result in plan.results.items()]
        log.info(
            "das_report_received",
            provider_id=provider_id,
            report_id=report_id,
            systems=len(answer),
            readings=sum(inserted.values()),
            refused=sum(r.refused for r in plan.results.values()),
        )
        nothing = not plan.batches and any(r.refused for r in plan.results.values())
        return web.json_response(
            {"reportId": report_id, "systems": answer}, status=422 if nothing else 200
        )

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


def make_app(
    registry: IntakeRegistry,
    sink: RecordSink,
    clock: Callable[[], datetime] = _now,
    guards: IntakeGuards | None = None,
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/v1/reports", ReportHandler(registry, sink, clock, guards).handle)

    async def close_registry(_: web.Application) -> None:
        await registry.close()

    app.on_cleanup.append(close_registry)
    return app


async def serve_forever(
    database_url: str,
    target: KafkaTarget,
    host: str,
    port: int,
    guards: IntakeGuards | None = None,
    pool_max: int = 10,
) -> None:
    """Run the intake until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    sink = KafkaSink(target)
    await sink.start()
    registry = PostgresIntakeRegistry(database_url, pool_max=pool_max)
    runner = web.AppRunner(make_app(registry, sink, guards=guards))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("das_intake_started", host=host, port=port)
        await stop.wait()
    finally:
        await runner.cleanup()
        await sink.stop()
