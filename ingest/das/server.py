"""HTTP intake of DAS reports (aiohttp): `POST /v1/reports` with JSON or CSV.

Request: header `X-API-Key: <provider key>`; body JSON (Content-Type application/json) or CSV
(Content-Type text/csv), see ingest.das.intake. Answer 200 with one entry per system:
    {"reportId": "...", "systems": [{"systemId", "success", "recordsInserted", "messages"}]}
`recordsInserted` counts readings Kafka acknowledged (readings.raw); the answer is sent only
after that acknowledgement. 401: unknown key; 400: unreadable body; 503: Kafka did not
acknowledge (sending the same report again is safe: the stream dedupes on (meter_id, ts)).
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from aiohttp import web
from aiokafka.errors import KafkaError

from ingest.das.intake import (
    ReportRow,
    parse_csv_report,
    parse_json_report,
    plan_report,
)
from ingest.das.registry import IntakeRegistry, PostgresIntakeRegistry
from ingest.envelope import Outgoing
from ingest.errors import IntakeError, KafkaUnavailableError
from ingest.kafka_sink import KafkaSink, KafkaTarget, RecordSink

log = structlog.get_logger(__name__)
API_KEY_HEADER = "X-API-Key"
MAX_BODY_BYTES = 32 * 1024 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


class ReportHandler:
    """POST /v1/reports: authenticate, parse, check against the registry, produce, answer."""

    def __init__(
        self, registry: IntakeRegistry, sink: RecordSink, clock: Callable[[], datetime] = _now
    ) -> None:
        self._registry = registry
        self._sink = sink
        self._clock = clock

    async def handle(self, request: web.Request) -> web.Response:
        api_key = request.headers.get(API_KEY_HEADER, "")
        provider_id = await self._registry.provider_for_key(api_key) if api_key else None
        if provider_id is None:
            return web.json_response(
                {"error": f"missing or unknown API key; send it in the {API_KEY_HEADER} header"},
                status=401,
            )
        body = await request.read()
        try:
            rows = self._parse(request.content_type, body)
        except IntakeError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        report_id = uuid.uuid4().hex
        targets = await self._registry.systems({row.system_id for row in rows})
        plan = plan_report(provider_id, rows, targets, self._clock())
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
            for system_id, count, delivery in deliveries:
                await delivery
                inserted[system_id] += count
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
        return web.json_response({"reportId": report_id, "systems": answer})

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
    registry: IntakeRegistry, sink: RecordSink, clock: Callable[[], datetime] = _now
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/v1/reports", ReportHandler(registry, sink, clock).handle)
    return app


async def serve_forever(database_url: str, target: KafkaTarget, host: str, port: int) -> None:
    """Run the intake until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    sink = KafkaSink(target)
    await sink.start()
    runner = web.AppRunner(make_app(PostgresIntakeRegistry(database_url), sink))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("das_intake_started", host=host, port=port)
        await stop.wait()
    finally:
        await runner.cleanup()
        await sink.stop()
