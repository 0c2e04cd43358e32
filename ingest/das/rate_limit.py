"""Token buckets per key (an API key, a client address): how long a caller must wait.

`take(key)` spends one token and returns 0.0, or returns the seconds until a token is
there (the caller answers 429 with Retry-After). Pure: the clock is passed in. Memory is
bounded: beyond `max_keys` buckets, the ones idle longest are forgotten (a forgotten key
starts again with a full burst, which is what an idle key would have by then anyway, or
close to it).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """`rate_per_s` tokens a second, at most `burst` saved, per key."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate_per_s > 0 and burst ≥ 1")
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, key: str) -> float:
        """Spend a token of `key`: 0.0 if there was one, else the seconds to wait."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self._rate
        self._buckets[key] = (tokens, now)  # most recently used last
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)
