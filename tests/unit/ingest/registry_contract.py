"""The IntakeRegistry contract, written once; run against the fake and PostgreSQL."""

from __future__ import annotations

from ingest.das.intake import SystemTarget
from ingest.das.registry import IntakeRegistry

# Every implementation is seeded with: provider acme (approved, key returned by the fixture)
# reporting S-a-1 (meter a-1) and S-a-2 (meters a-2, a-2b), provider solarco reporting S-s-1.


class IntakeRegistryContract:
    """Subclasses provide the fixture `seeded` -> (registry, acme's API key)."""

    async def test_key_names_its_provider(self, seeded: tuple[IntakeRegistry, str]) -> None:
        """A valid key gives its provider; anything else gives None."""
        registry, key = seeded
        assert await registry.provider_for_key(key) == "acme"
        assert await registry.provider_for_key(key + "x") is None

    async def test_systems_with_meters_in_service(self, seeded: tuple[IntakeRegistry, str]) -> None:
        """Registered systems come back with provider, time zone and meters; others do not."""
        registry, _ = seeded
        assert await registry.systems({"S-a-1", "S-a-2", "S-s-1", "S-nope"}) == {
            "S-a-1": SystemTarget("S-a-1", "acme", "America/New_York", ("a-1",)),
            "S-a-2": SystemTarget("S-a-2", "acme", "America/New_York", ("a-2", "a-2b")),
            "S-s-1": SystemTarget("S-s-1", "solarco", "America/New_York", ("s-1",)),
        }
