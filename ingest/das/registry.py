"""What the intake asks the registry: which provider owns an API key, what a system is.

`IntakeRegistry` is the port; `PostgresIntakeRegistry` reads the registry tables (001) and the
API keys (005) through a bounded connection pool (a flood of requests waits for a connection,
at most `pool_timeout_s`, then is answered 503, instead of exhausting the server's
connections for everyone); tests use a dict-backed fake beside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any, Protocol

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ingest.das.credentials import hash_key
from ingest.das.intake import SystemTarget


class IntakeRegistry(Protocol):
    async def provider_for_key(self, api_key: str) -> str | None:
        """The approved provider holding this unrevoked key, or None."""
        ...

    async def systems(self, system_ids: Collection[str]) -> dict[str, SystemTarget]:
        """The registered systems among `system_ids` (absent: not registered)."""
        ...

    async def close(self) -> None:
        """Release what the registry holds (connections)."""
        ...


class RegistryUnavailableError(Exception):
    """No database connection within the pool's timeout (answer 503, Retry-After)."""


class PostgresIntakeRegistry:
    """The registry in PostgreSQL through a pool of at most `pool_max` connections, opened on
    first use."""

    def __init__(self, database_url: str, pool_max: int = 10, pool_timeout_s: float = 10.0) -> None:
        self._url = database_url
        self._pool: AsyncConnectionPool[Any] | None = None
        self._pool_max = pool_max
        self._timeout = pool_timeout_s
        self._opening = asyncio.Lock()

    async def _connection_pool(self) -> AsyncConnectionPool[Any]:
        async with self._opening:
            if self._pool is None:
                pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                    self._url, min_size=1, max_size=self._pool_max, timeout=self._timeout,
                    open=False,
                )  # fmt: skip
                await pool.open(wait=True, timeout=self._timeout)
                self._pool = pool
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            pool = await self._connection_pool()
            async with pool.connection() as conn:
                cur = await conn.execute(sql, params)
                return list(await cur.fetchall())
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise RegistryUnavailableError(str(exc)) from exc

    async def provider_for_key(self, api_key: str) -> str | None:
        rows = await self._fetch(
            "SELECT k.provider_id FROM das_api_keys k JOIN das_providers p USING (provider_id) "
            "WHERE k.key_sha256 = %s AND k.revoked_at IS NULL AND p.approved",
            (hash_key(api_key),),
        )
        return None if not rows else str(rows[0][0])

    async def systems(self, system_ids: Collection[str]) -> dict[str, SystemTarget]:
        rows = await self._fetch(
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
        return {r[0]: SystemTarget(r[0], r[1], r[2], tuple(r[3])) for r in rows}
