"""The DAS intake on the web service: providers post reports and read, per reading, what PTS
made of them.

- `POST /api/v1/das/reports` (and `POST /v1/reports`, the first intake's path): a report,
  JSON or CSV, header `X-API-Key`, optional `Idempotency-Key` (ingest.das.server).
- `GET /api/v1/das/reports/{report_id}`: per reading stored, duplicate, conflict, refused
  (the intake's or the stream's reason code and reason) or pending (web.das_feedback).
  The provider that sent it (its `X-API-Key`), its DAS provider account or an admin may read
  it; to anyone else it does not exist (404).

The intake's database work goes through its own bounded async pool (`PTS_DAS_POOL_MAX`), and
the Kafka producer starts with the first report, so the portal runs without a broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from certification.errors import Refused
from certification.roles import Role, is_admin
from ingest.das.rate_limit import RateLimiter
from ingest.das.registry import IntakeRegistry
from ingest.das.server import (
    API_KEY_HEADER,
    IDEMPOTENCY_HEADER,
    MAX_BODY_BYTES,
    Answer,
    DasIntake,
    IntakeGuards,
    refusal,
)
from ingest.envelope import Outgoing
from ingest.kafka_sink import KafkaSink, KafkaTarget, RecordSink
from pts.kafka_config import kafka_connection
from pts.settings import Settings, service_database_url
from web.context import address_of
from web.das_feedback import DeadLetter, RowFacts, decide, sort_dead_letters, summarise
from web.das_store import PostgresDasStore, ReportHead
from web.deps import api_identity
from web.identity import Identity

router = APIRouter(tags=["DAS"])


class LazyKafkaSink:
    """A KafkaSink started on its first record (and again after a failed start)."""

    def __init__(self, target: KafkaTarget) -> None:
        self._target = target
        self._sink: KafkaSink | None = None
        self._lock: asyncio.Lock | None = None

    async def send(self, record: Outgoing) -> Awaitable[Any]:
        if self._sink is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._sink is None:
                    sink = KafkaSink(self._target)
                    await sink.start()  # KafkaUnavailableError: the report is answered 503
                    self._sink = sink
        return await self._sink.send(record)

    async def stop(self) -> None:
        if self._sink is not None:
            await self._sink.stop()
            self._sink = None


class ReportReader(IntakeRegistry, Protocol):
    """What the status endpoint reads (web.das_store.PostgresDasStore)."""

    async def report(self, report_id: str) -> ReportHead | None: ...

    async def row_facts(self, report_id: str) -> list[RowFacts]: ...

    async def dead_letters(self, report_id: str) -> list[DeadLetter]: ...


class DasService:
    """The intake and its store, held by the application (`app.state.das`)."""

    def __init__(self, intake: DasIntake, store: ReportReader, sink: RecordSink) -> None:
        self.intake = intake
        self.store = store
        self.sink = sink

    async def close(self) -> None:
        await self.store.close()
        if isinstance(self.sink, LazyKafkaSink):
            await self.sink.stop()


def guards_from(settings: Settings) -> IntakeGuards:
    """The intake's bounds from the settings."""
    return IntakeGuards(
        per_key=RateLimiter(settings.das_rate_per_key, 10),
        per_address=RateLimiter(settings.das_rate_per_address, 20),
        max_record_bytes=settings.ingest_max_record_bytes,
        earliest=datetime.combine(settings.stream_earliest_reading, time(0), tzinfo=UTC),
        future=timedelta(seconds=settings.stream_future_tolerance_s),
    )


def das_service(
    settings: Settings, clock: Callable[[], datetime], guards: IntakeGuards | None = None
) -> DasService:
    """The intake on the settings' database (pool of PTS_DAS_POOL_MAX) and Kafka; the bounds
    from the settings unless `guards` are given."""
    store = PostgresDasStore(
        service_database_url(settings, "intake"), pool_max=settings.das_pool_max
    )
    sink = LazyKafkaSink(
        KafkaTarget(
            settings.kafka_bootstrap,
            settings.kafka_readings_topic,
            settings.kafka_dead_letter_topic,
            security=kafka_connection(settings),
        )
    )
    intake = DasIntake(store, sink, store, clock, guards or guards_from(settings))
    return DasService(intake, store, sink)


def service(request: Request) -> DasService:
    found: DasService = request.app.state.das
    return found


def _json(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status, headers=dict(answer.headers))


async def _body(request: Request) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY_BYTES (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class SystemAnswer(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    system_id: str = Field(alias="systemId")
    success: bool
    records_inserted: int = Field(alias="recordsInserted")
    messages: list[str]


class ReportAnswer(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    report_id: str = Field(alias="reportId")
    status_url: str = Field(alias="statusUrl")
    systems: list[SystemAnswer]


class DasError(BaseModel):
    code: str
    message: str
    error: str | None = Field(
        default=None,
        description="the message again, for clients of the first intake (intake answers)",
    )


class ReadingStatus(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    row: int = Field(description="the row's place in the report, from 1")
    system_id: str = Field(alias="systemId")
    meter_id: str | None = Field(alias="meterId")
    meter_date: datetime | None = Field(alias="meterDate")
    energy_wh: int | None = Field(alias="energyWh")
    status: str = Field(description="stored, duplicate, conflict, refused or pending")
    code: str | None = Field(description="the refusal's reason code")
    reason: str | None
    decided_by: str | None = Field(alias="decidedBy", description="intake or stream")


class ReportStatus(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    report_id: str = Field(alias="reportId")
    provider_id: str = Field(alias="providerId")
    received_at: datetime = Field(alias="receivedAt")
    summary: dict[str, int]
    readings: list[ReadingStatus]


_REPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["systems"],
                    "properties": {
                        "systems": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["systemId", "meterValue", "meterDate"],
                                "properties": {
                                    "systemId": {"type": "string"},
                                    "meterValue": {"type": ["number", "string"]},
                                    "meterDate": {"type": "string"},
                                    "unit": {"type": "string", "enum": ["kWh", "Wh"]},
                                    "meterId": {"type": "string"},
                                    "event": {"type": "string", "enum": ["closing", "opening"]},
                                },
                            },
                        }
                    },
                }
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    },
    "parameters": [
        {"name": API_KEY_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
        {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": 200},
        },
    ],
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": DasError} for s in (400, 401, 409, 413, 422, 429, 503)
}


async def _receive(request: Request) -> Response:
    das = service(request)
    found = await das.intake.provider(address_of(request), request.headers.get(API_KEY_HEADER, ""))
    if isinstance(found, Answer):
        return _json(found)
    body = await _body(request)
    if body is None:
        return _json(
            refusal(413, "too_large", f"a report is at most {MAX_BODY_BYTES} bytes; split it")
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    answer = await das.intake.receive(
        found, content_type, body, request.headers.get(IDEMPOTENCY_HEADER)
    )
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.das_report(answer.accepted, answer.refused)
    return _json(answer)


@router.post(
    "/api/v1/das/reports",
    response_model=ReportAnswer,
    responses={**_ERRORS, 200: {"model": ReportAnswer}},
    openapi_extra=_REPORT_BODY,
)
async def report_post(request: Request) -> Response:
    """A DAS provider's report of register readings (JSON or CSV). The answer means Kafka
    took the readings; what PTS then decided per reading is at `statusUrl`."""
    return await _receive(request)


@router.post("/v1/reports", include_in_schema=False)
async def legacy_report_post(request: Request) -> Response:
    """The first intake's path: the same as POST /api/v1/das/reports."""
    return await _receive(request)


@router.get(
    "/api/v1/das/reports/{report_id}",
    response_model=ReportStatus,
    responses={s: {"model": DasError} for s in (401, 404, 429, 503)},
    openapi_extra={
        "parameters": [
            {
                "name": API_KEY_HEADER,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            }
        ]
    },
)
async def report_status(
    request: Request,
    report_id: str,
    caller: Annotated[Identity | None, Depends(api_identity)],
) -> Response:
    """Per reading of a report: stored, duplicate, conflict, refused (with the reason code and
    reason, from the intake or the stream) or pending. Send the provider's X-API-Key, or a
    token of the provider's account or an admin's."""
    das = service(request)
    api_key = request.headers.get(API_KEY_HEADER, "")
    allowed: str | None = None  # the provider whose reports the caller may read; "*" all
    if api_key:
        found = await das.intake.provider(address_of(request), api_key)
        if isinstance(found, Answer):
            return _json(found)
        allowed = found
    elif caller is None:
        raise Refused("sign_in_required", f"send the provider's {API_KEY_HEADER} or a token")
    elif is_admin(caller.account):
        allowed = "*"
    elif caller.account.role is Role.DAS_PROVIDER:
        allowed = caller.account.account_id  # the provider's own account
    head = await das.store.report(report_id[:64])
    if head is None or allowed not in ("*", head.provider_id) or head.answer_status is None:
        raise Refused("not_found", "no such report of yours (or it is still being received)")
    facts = await das.store.row_facts(head.report_id)
    refusals = sort_dead_letters(await das.store.dead_letters(head.report_id))
    statuses = [decide(f, head.provider_id, refusals) for f in facts]
    shown = ReportStatus(
        report_id=head.report_id,
        provider_id=head.provider_id,
        received_at=head.received_at,
        summary=summarise(statuses),
        readings=[
            ReadingStatus(
                row=s.row_no,
                system_id=s.system_id,
                meter_id=s.meter_id,
                meter_date=s.ts,
                energy_wh=s.energy_wh,
                status=s.status,
                code=s.code,
                reason=s.reason,
                decided_by=s.decided_by,
            )
            for s in statuses
        ],
    )
    return JSONResponse(shown.model_dump(mode="json", by_alias=True))
