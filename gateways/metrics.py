"""The gateway's Prometheus metrics: what it polled, spooled, published and had acknowledged,
how full its spool is and whether its broker is connected.

Counters are plain integers the agent keeps (`GatewayStats`); a collector reads them and the
spool at scrape time, so nothing is registered globally and several agents can run in one
process (tests). `pts gateway run` serves them on `/metrics` when the gateway's config sets
`metrics_port` (off otherwise). Alert rules on these names: deploy/prometheus/pts-alerts.yml.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from gateways.agent import GatewayAgent


@dataclass(slots=True)
class GatewayStats:
    """Counts since the process started (Prometheus takes care of restarts)."""

    polled: int = 0  # readings a meter answered
    poll_failures: int = 0  # polls a meter did not answer (timeout, exception, bad value)
    spooled: int = 0
    spool_refused: int = 0  # readings not stored because the spool was full
    published: int = 0  # readings sent in a QoS 1 message (re-sends count again)
    acknowledged: int = 0  # readings whose message the broker delivered (then deleted)
    undelivered: int = 0  # readings whose message nobody took (no subscriber, refused): resent
    # when the last poll round finished (wall clock); the start until the first poll ends, so
    # a gateway just (re)started is not taken for silent (alert PtsGatewaySilent)
    last_poll_unix: float = field(default_factory=time.time)


class GatewayCollector(Collector):
    """Reads one agent's counters and spool when Prometheus scrapes."""

    def __init__(self, agent: GatewayAgent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        agent, stats = self.agent, self.agent.stats
        labels = ["gateway_id"]
        value = [agent.config.gateway_id]

        def counter(name: str, doc: str, count: int) -> CounterMetricFamily:
            family = CounterMetricFamily(f"pts_gateway_{name}", doc, labels=labels)
            family.add_metric(value, count)
            return family

        def gauge(name: str, doc: str, number: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(f"pts_gateway_{name}", doc, labels=labels)
            family.add_metric(value, number)
            return family

        yield counter("readings_polled", "readings the meters answered", stats.polled)
        yield counter("poll_failures", "polls a meter did not answer", stats.poll_failures)
        yield counter("readings_spooled", "readings stored in the spool", stats.spooled)
        yield counter(
            "readings_spool_refused", "readings not stored: spool full", stats.spool_refused
        )
        yield counter("readings_published", "readings sent (QoS 1)", stats.published)
        yield counter("readings_acknowledged", "readings the broker delivered", stats.acknowledged)
        yield counter(
            "readings_undelivered",
            "readings the broker did not deliver (no subscriber or refused); sent again",
            stats.undelivered,
        )
        spool = agent.spool
        yield gauge("spool_readings", "readings held in the spool", spool.count())
        yield gauge("spool_bytes", "bytes of reading JSON held", spool.size_bytes())
        yield gauge("spool_max_readings", "the spool's bound in readings", spool.max_rows)
        yield gauge("spool_max_bytes", "the spool's bound in bytes", spool.max_bytes)
        oldest = spool.oldest_ts()
        age = 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
        yield gauge("spool_oldest_age_seconds", "age of the oldest reading held", max(age, 0.0))
        yield gauge(
            "mqtt_connected", "1 when connected to the broker", agent.publisher.connected.is_set()
        )
        yield gauge("poll_interval_seconds", "configured poll interval", agent.config.interval_s)
        yield gauge(
            "last_poll_timestamp_seconds",
            "when the last poll round ended (the start, before the first)",
            stats.last_poll_unix,
        )


def gateway_registry(agent: GatewayAgent) -> CollectorRegistry:
    """A registry holding the agent's collector (served by `pts gateway run`)."""
    registry = CollectorRegistry()
    registry.register(GatewayCollector(agent))
    return registry
