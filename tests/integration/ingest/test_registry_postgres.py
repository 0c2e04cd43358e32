"""The registry contract on PostgreSQL (registry tables of 001, API keys of 005)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import psycopg
import pytest

from ingest.das.credentials import add_api_key
from ingest.das.registry import PostgresIntakeRegistry
from schemas.registry import AccuracyClass, Meter
from storage import registry_store
from tests.support import register_fleet
from tests.unit.ingest.registry_contract import IntakeRegistryContract

pytestmark = pytest.mark.integration


class TestPostgresIntakeRegistry(IntakeRegistryContract):
    @pytest.fixture
    async def seeded(self, fresh_db: str) -> AsyncIterator[tuple[PostgresIntakeRegistry, str]]:
        with psycopg.connect(fresh_db) as conn:
            register_fleet(conn, ["a-1", "a-2"], provider="acme")
            register_fleet(conn, ["s-1"], provider="solarco")
            second = Meter(
                meter_id="a-2b",
                system_id="S-a-2",
                serial="SN-a-2b",
                model="SIM-203",
                accuracy_class=AccuracyClass.PCT_0_5,
                installed_on=date(2024, 1, 1),
            )
            removed = second.model_copy(
                update={"meter_id": "a-2old", "removed_on": date(2024, 1, 1)}
            )
            registry_store.upsert(conn, [second, removed])
            key = add_api_key(conn, "acme")
        registry = PostgresIntakeRegistry(fresh_db, pool_max=2)
        yield registry, key
        await registry.close()
