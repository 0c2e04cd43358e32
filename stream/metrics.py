"""The stream worker's Prometheus metrics: what it stored, recognised as duplicates or
conflicts and refused (by reason), how long a batch took to commit, how far behind the group
is on each partition, how many dead letters wait, and when each source last reported.

One registry per engine (nothing global), served on `/metrics` by `pts stream worker`
(setting PTS_STREAM_METRICS_PORT; 0 turns it off). Lag and dead letters are measured every
`LAG_INTERVAL_S` by the engine's timer, not at scrape time. Alert rules:
deploy/prometheus/pts-alerts.yml.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from stream.core import Reject

LAG_INTERVAL_S = 15.0


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.readings = Counter(
            "pts_stream_readings",
            "readings the worker handled, by outcome (stored, duplicate, conflict)",
            ["outcome"],
            registry=self.registry,
        )
        self.refused = Counter(
            "pts_stream_readings_refused",
            "readings or messages refused to the dead letters, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "pts_stream_batch_commit_seconds",
            "time to validate, store and commit one batch of messages",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.database_unavailable = Counter(
            "pts_stream_database_unavailable",
            "batches retried because the database was unavailable",
            registry=self.registry,
        )
        self.lag = Gauge(
            "pts_stream_consumer_lag",
            "messages of the readings topic not yet committed by the worker group",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.dead_letters_waiting = Gauge(
            "pts_stream_dead_letters_waiting",
            "dead letters not re-driven yet, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.last_reading = Gauge(
            "pts_stream_source_last_reading_timestamp_seconds",
            "when this worker last stored a reading from the source (gateway or DAS provider)",
            ["source", "source_id"],
            registry=self.registry,
        )
        for outcome in ("stored", "duplicate", "conflict"):
            self.readings.labels(outcome)  # present from the start, at 0

    def observe_batch(
        self,
        seconds: float,
        new: int,
        duplicate: int,
        conflict: int,
        rejects: Iterable[Reject],
        sources: Iterable[tuple[str, str, float]],
    ) -> None:
        """Count one committed batch; `sources` are (source, source_id, unix time) stored."""
        self.batch_seconds.observe(seconds)
        self.readings.labels("stored").inc(new)
        self.readings.labels("duplicate").inc(duplicate)
        self.readings.labels("conflict").inc(conflict)
        for reject in rejects:
            self.refused.labels(reject.code.value).inc()
        latest: dict[tuple[str, str], float] = {}
        for source, source_id, when in sources:
            key = (source, source_id)
            latest[key] = max(when, latest.get(key, 0.0))
        for (source, source_id), when in latest.items():
            self.last_reading.labels(source, source_id).set(when)

    def set_lag(self, topic: str, committed: dict[int, int], ends: dict[int, int]) -> None:
        for partition, end in ends.items():
            self.lag.labels(topic, str(partition)).set(max(end - committed.get(partition, 0), 0))

    def set_dead_letters(self, waiting: dict[str, int]) -> None:
        self.dead_letters_waiting.clear()
        for reason, count in waiting.items():
            self.dead_letters_waiting.labels(reason).set(count)
