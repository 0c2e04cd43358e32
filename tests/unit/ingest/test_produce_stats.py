"""Kafka produce latency and errors as the bridge's /metrics serve them (pure: the counts and
the cumulative histogram buckets Prometheus expects)."""

from __future__ import annotations

import asyncio
import time

from ingest.produce_stats import PRODUCE_BUCKETS, ProduceStats


def test_latencies_fall_in_cumulative_buckets_and_inf_counts_them_all() -> None:
    stats = ProduceStats()
    for seconds in (0.004, 0.005, 0.02, 0.3, 45.0):
        stats.observe(seconds)
    buckets = dict(stats.cumulative())
    assert PRODUCE_BUCKETS[0] == 0.005
    assert buckets["0.005"] == 2  # an upper bound is inclusive (le)
    assert buckets["0.025"] == 3
    assert buckets["0.25"] == 3
    assert buckets["0.5"] == 4
    assert buckets["30.0"] == 4
    assert buckets["+Inf"] == 5 == stats.acknowledged
    assert stats.total_seconds == 0.004 + 0.005 + 0.02 + 0.3 + 45.0
    assert stats.errors == 0


async def test_a_delivery_counts_once_resolved_and_a_failed_one_is_an_error() -> None:
    loop = asyncio.get_running_loop()
    stats = ProduceStats()
    ok, failed, cancelled = loop.create_future(), loop.create_future(), loop.create_future()
    for future in (ok, failed, cancelled):
        stats.track(future, started=time.perf_counter())
    assert (stats.acknowledged, stats.errors) == (0, 0)  # nothing resolved yet
    ok.set_result(None)
    failed.set_exception(RuntimeError("not leader"))
    cancelled.cancel()
    await asyncio.sleep(0)  # done-callbacks run on the loop
    assert (stats.acknowledged, stats.errors) == (1, 2)
    assert failed.exception() is not None  # the caller still sees why
