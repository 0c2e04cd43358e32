"""In-memory stand-ins for the intake's ports (not a test module)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from ingest.das.intake import SystemTarget
from ingest.envelope import Outgoing


class FakeIntakeRegistry:
    """IntakeRegistry over dicts."""

    def __init__(self, keys: dict[str, str], targets: dict[str, SystemTarget]) -> None:
        self.keys = keys
        self.targets = targets

    async def provider_for_key(self, api_key: str) -> str | None:
        return self.keys.get(api_key)

    async def systems(self, system_ids: Collection[str]) -> dict[str, SystemTarget]:
        return {s: self.targets[s] for s in system_ids if s in self.targets}

    async def close(self) -> None:
        return None


class FakeSink:
    """RecordSink that keeps records and acknowledges at once."""

    def __init__(self) -> None:
        self.records: list[Outgoing] = []

    async def send(self, record: Outgoing) -> asyncio.Future[Any]:
        self.records.append(record)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done
