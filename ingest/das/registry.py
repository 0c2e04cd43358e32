"""What the intake asks the registry: which provider owns an API key, what a system is.

`IntakeRegistry` is the port; `PostgresIntakeRegistry` reads the registry tables (001) and the
API keys (005); tests use a dict-backed fake beside it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import psycopg

from ingest.das.credentials import hash_key
from ingest.das.intake import SystemTarget


class IntakeRegistry(Protocol):
    async def provider_for_key(self, api_key: str) -> str | None:
        """The approved provider holding this unrevoked key, or None."""
        ...

    async def systems(self, system_ids: Collection[str]) -> dict[str, SystemTarget]:
        """The registered systems among `system_ids` (absent: not registered)."""
        ...


class PostgresIntakeRegistry:
    """The registry in PostgreSQL; one short connection per call (reports are infrequent)."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url

    async def provider_for_key(self, api_key: str) -> str | None:
        async with await psycopg.AsyncConnection.connect(self._url) as conn:
            cur = await conn.execute(
                "SELECT k.provider_id FROM das_api_keys k JOIN das_providers p USING (provider_id) "
                "WHERE k.key_sha256 = %s AND k.revoked_at IS NULL AND p.approved",
                (hash_key(api_key),),
            )
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def systems(self, system_ids: Collection[str]) -> dict[str, SystemTarget]:
        async with await psycopg.AsyncConnection.connect(self._url) as conn:
            cur = await conn.execute(
                """
                SELECT s.system_id, s.das_provider_id, s.timezone,
                       coalesce(array_agg(m.meter_id ORDER BY m.meter_id)
                                FILTER (WHERE m.meter_id IS NOT NULL), '{}')
                FROM systems s
                LEFT JOIN meters m ON m.system_id = s.system_id AND m.removed_on IS NULL
                WHERE s.system_id = ANY(%s)
                GROUP BY s.system_id, s.das_provider_id, s.timezone
                """,
                (list(system_ids),),
            )
            rows = await cur.fetchall()
        return {r[0]: SystemTarget(r[0], r[1], r[2], tuple(r[3])) for r in rows}
