"""The registry contract on the in-memory fake."""

from __future__ import annotations

import pytest

from ingest.das.intake import SystemTarget
from tests.unit.ingest.fakes import FakeIntakeRegistry
from tests.unit.ingest.registry_contract import IntakeRegistryContract


class TestFakeIntakeRegistry(IntakeRegistryContract):
    @pytest.fixture
    def seeded(self) -> tuple[FakeIntakeRegistry, str]:
        ny = "America/New_York"
        return (
            FakeIntakeRegistry(
                {"key-acme": "acme"},
                {
                    "S-a-1": SystemTarget("S-a-1", "acme", ny, ("a-1",)),
                    "S-a-2": SystemTarget("S-a-2", "acme", ny, ("a-2", "a-2b")),
                    "S-s-1": SystemTarget("S-s-1", "solarco", ny, ("s-1",)),
                },
            ),
            "key-acme",
        )
