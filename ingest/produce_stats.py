"""How long Kafka takes to acknowledge each record a producer sends (acks=all), and how many
it refused or never acknowledged: plain counts kept by the sink (ingest.kafka_sink) and read
at scrape time by the bridge's and `pts das pull`'s collectors (ingest.metrics) as the
histogram `…_kafka_produce_seconds` and the counter `…_kafka_produce_errors_total`."""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

# upper bounds in seconds (inclusive, as Prometheus's `le`); linger is 5 ms, acks=all
PRODUCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(slots=True)
class ProduceStats:
    """Records acknowledged by latency bucket (the last slot: above every bound), their
    total seconds, and records refused at send or whose delivery failed."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(PRODUCE_BUCKETS) + 1))
    total_seconds: float = 0.0
    errors: int = 0

    @property
    def acknowledged(self) -> int:
        return sum(self.counts)

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(PRODUCE_BUCKETS, seconds)] += 1
        self.total_seconds += seconds

    def track(self, delivery: asyncio.Future[Any], started: float) -> None:
        """Count `delivery` when it resolves: its latency from `started` (perf_counter),
        or an error."""

        def done(future: asyncio.Future[Any]) -> None:
            if future.cancelled() or future.exception() is not None:
                self.errors += 1
            else:
                self.observe(time.perf_counter() - started)

        delivery.add_done_callback(done)

    def cumulative(self) -> list[tuple[str, float]]:
        """(le, records at or below it) for every bound and +Inf, from one snapshot."""
        counts = list(self.counts)
        out, running = [], 0
        for bound, count in zip(PRODUCE_BUCKETS, counts, strict=False):
            running += count
            out.append((str(bound), float(running)))
        out.append(("+Inf", float(sum(counts))))
        return out
