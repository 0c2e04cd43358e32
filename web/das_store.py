"""SQL of the DAS intake on the web service (migration 014), through the intake's own
bounded async pool (`das_pool_max` connections): the registry look-ups
(ingest.das.registry), the report log (claims, answers, row outcomes) and the facts the
per-reading feedback is decided from (web.das_feedback).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import PoolTimeout

from ingest.das.registry import PostgresIntakeRegistry, RegistryUnavailableError
from ingest.das.server import Claimed, RowOutcome
from web.das_feedback import DeadLetter, RowFacts

_ROW_COLUMNS = (
    "report_id, row_no, system_id, meter_id, ts, energy_wh, seq, content_hash, intake_code, "
    "intake_reason, record_topic, record_partition, record_offset"
)


@dataclass(frozen=True, slots=True)
class ReportHead:
    report_id: str
    provider_id: str
    received_at: datetime
    answer_status: int | None


class PostgresDasStore(PostgresIntakeRegistry):
    """IntakeRegistry and ReportLog on one pool."""

    async def _run(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            pool = await self._connection_pool()
            async with pool.connection() as conn:
                cur = await conn.execute(sql, params)
                return list(await cur.fetchall()) if cur.description else []
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise RegistryUnavailableError(str(exc)) from exc

    async def claim(
        self,
        report_id: str,
        provider_id: str,
        idempotency_key: str | None,
        body_sha256: str,
        received_at: datetime,
    ) -> Claimed | None:
        inserted = await self._run(
            "INSERT INTO das_reports (report_id, provider_id, idempotency_key, body_sha256, "
            "received_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (report_id, provider_id, idempotency_key, body_sha256, received_at),
        )
        if inserted:
            return None
        rows = await self._run(
            "SELECT report_id, body_sha256, answer_status, answer FROM das_reports "
            "WHERE provider_id = %s AND idempotency_key = %s",
            (provider_id, idempotency_key),
        )
        if not rows:  # the claim it collided with was abandoned meanwhile: claim again
            return await self.claim(
                report_id, provider_id, idempotency_key, body_sha256, received_at
            )
        found = rows[0]
        return Claimed(found[0], found[1], found[2], found[3])

    async def finish(
        self, report_id: str, status: int, answer: dict[str, Any], rows: Sequence[RowOutcome]
    ) -> None:
        try:
            pool = await self._connection_pool()
            async with pool.connection() as conn, conn.transaction():
                cur = conn.cursor()
                async with cur.copy(f"COPY das_report_readings ({_ROW_COLUMNS}) FROM STDIN") as cp:
                    for r in rows:
                        await cp.write_row(
                            (
                                report_id, r.row_no, r.system_id, r.meter_id, r.ts, r.energy_wh,
                                r.seq, r.content_hash, r.intake_code, r.intake_reason,
                                r.record_topic, r.record_partition, r.record_offset,
                            )
                        )  # fmt: skip
                await conn.execute(
                    "UPDATE das_reports SET answer_status = %s, answer = %s WHERE report_id = %s",
                    (status, Jsonb(answer), report_id),
                )
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise RegistryUnavailableError(str(exc)) from exc

    async def abandon(self, report_id: str) -> None:
        await self._run("DELETE FROM das_reports WHERE report_id = %s", (report_id,))

    async def report(self, report_id: str) -> ReportHead | None:
        rows = await self._run(
            "SELECT report_id, provider_id, received_at, answer_status FROM das_reports "
            "WHERE report_id = %s",
            (report_id,),
        )
        return None if not rows else ReportHead(*rows[0])

    async def row_facts(self, report_id: str) -> list[RowFacts]:
        """Each row with what storage holds at its (meter_id, ts)."""
        rows = await self._run(
            """
            SELECT x.row_no, x.system_id, x.meter_id, x.ts, x.energy_wh, x.seq, x.content_hash,
                   x.intake_code, x.intake_reason, x.record_topic, x.record_partition,
                   x.record_offset, r.source_id, r.seq, r.content_hash,
                   EXISTS (SELECT 1 FROM reading_conflicts c WHERE c.meter_id = x.meter_id
                           AND c.ts = x.ts AND c.content_hash = x.content_hash)
            FROM das_report_readings x
            LEFT JOIN readings r ON r.meter_id = x.meter_id AND r.ts = x.ts
            WHERE x.report_id = %s
            ORDER BY x.row_no
            """,
            (report_id,),
        )
        return [
            RowFacts(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                None if r[9] is None else (r[9], r[10], r[11]),
                r[12], r[13], r[14], bool(r[15]),
            )
            for r in rows
        ]  # fmt: skip

    async def dead_letters(self, report_id: str) -> list[DeadLetter]:
        """The stream's dead letters of the records that carried the report's readings."""
        rows = await self._run(
            """
            SELECT d.source_topic, d.source_partition, d.source_offset, d.reason_code,
                   d.reason, d.payload
            FROM (SELECT DISTINCT record_topic, record_partition, record_offset
                  FROM das_report_readings
                  WHERE report_id = %s AND record_offset IS NOT NULL) p
            JOIN dead_letters d ON d.source_topic = p.record_topic
                 AND d.source_partition = p.record_partition
                 AND d.source_offset = p.record_offset
            ORDER BY d.id
            """,
            (report_id,),
        )
        return [DeadLetter((r[0], r[1], r[2]), r[3], r[4], bytes(r[5])) for r in rows]
