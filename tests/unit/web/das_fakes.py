"""The DAS intake's ports in memory, and the web routes served over them (not a test module)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from ingest.das.intake import SystemTarget
from ingest.das.server import Claimed, DasIntake, IntakeGuards, RowOutcome
from tests.unit.ingest.fakes import FakeIntakeRegistry, FakeSink
from web import das
from web.das_feedback import DeadLetter, RowFacts
from web.das_store import ReportHead


class FakeReportLog:
    """ReportLog (and the status reader) over dicts."""

    def __init__(self) -> None:
        self.claims: dict[tuple[str, str], str] = {}
        self.reports: dict[str, dict[str, Any]] = {}
        self.rows: dict[str, list[RowOutcome]] = {}

    async def claim(
        self,
        report_id: str,
        provider_id: str,
        idempotency_key: str | None,
        body_sha256: str,
        received_at: datetime,
    ) -> Claimed | None:
        if idempotency_key is not None:
            earlier = self.claims.get((provider_id, idempotency_key))
            if earlier is not None:
                found = self.reports[earlier]
                return Claimed(earlier, found["sha"], found["status"], found["answer"])
            self.claims[(provider_id, idempotency_key)] = report_id
        self.reports[report_id] = {
            "provider": provider_id,
            "key": idempotency_key,
            "sha": body_sha256,
            "at": received_at,
            "status": None,
            "answer": None,
        }
        return None

    async def finish(
        self, report_id: str, status: int, answer: dict[str, Any], rows: Sequence[RowOutcome]
    ) -> None:
        self.reports[report_id] |= {"status": status, "answer": answer}
        self.rows[report_id] = list(rows)

    async def abandon(self, report_id: str) -> None:
        found = self.reports.pop(report_id)
        self.claims.pop((found["provider"], found["key"]), None)


class FakeStore(FakeIntakeRegistry, FakeReportLog):
    def __init__(self, keys: dict[str, str], targets: dict[str, SystemTarget]) -> None:
        FakeIntakeRegistry.__init__(self, keys, targets)
        FakeReportLog.__init__(self)

    async def report(self, report_id: str) -> ReportHead | None:
        return None

    async def row_facts(self, report_id: str) -> list[RowFacts]:
        return []

    async def dead_letters(self, report_id: str) -> list[DeadLetter]:
        return []


def intake_app(
    store: FakeStore,
    sink: FakeSink,
    clock: Any,
    guards: IntakeGuards | None = None,
) -> FastAPI:
    """The web service's DAS routes over the fakes."""
    app = FastAPI()
    app.state.das = das.DasService(DasIntake(store, sink, store, clock, guards), store, sink)
    app.include_router(das.router)
    return app
