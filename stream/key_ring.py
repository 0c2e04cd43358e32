"""The registry's signing keys and signed meters for the stream, reloaded now and then.

The engine awaits `refresh` before running the pure core, so `key` and `requires_signature`
never do I/O. A reload happens when the snapshot is older than `max_age` seconds (so a
revocation takes effect within it) or when a batch names a key the snapshot does not hold
(at most every `min_interval` seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from schemas.signing_keys import SigningKey
from storage import provenance_store
from stream.signatures import StaticKeys


class RegistryKeys:
    def __init__(
        self,
        max_age: float = 30.0,
        min_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshot = StaticKeys({})
        self._max_age = max_age
        self._min_interval = min_interval
        self._clock = clock
        self._loaded_at: float | None = None

    def key(self, key_id: str) -> SigningKey | None:
        return self._snapshot.key(key_id)

    def requires_signature(self, meter_id: str) -> bool:
        return self._snapshot.requires_signature(meter_id)

    async def load(self, aconn: psycopg.AsyncConnection[Any]) -> None:
        keys = await provenance_store.load_keys(aconn)
        meters = await provenance_store.load_signed_meters(aconn)
        self._snapshot = StaticKeys({k.key_id: k for k in keys}, frozenset(meters))
        self._loaded_at = self._clock()

    async def refresh(self, aconn: psycopg.AsyncConnection[Any], key_id: str | None) -> None:
        """Reload when old, or when `key_id` is unknown and the last load is old enough."""
        if self._loaded_at is None:
            await self.load(aconn)
            return
        age = self._clock() - self._loaded_at
        unknown = key_id is not None and self.key(key_id) is None
        if age >= self._max_age or (unknown and age >= self._min_interval):
            await self.load(aconn)
