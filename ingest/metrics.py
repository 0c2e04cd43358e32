"""The bridge's Prometheus metrics, read from the running bridge at scrape time: messages,
readings, Kafka records and dead letters it forwarded (each acknowledged to MQTT only after
Kafka acknowledged it), redeliveries, when it last forwarded one, whether it is connected and
subscribed, how long Kafka took to acknowledge each record and how many it refused
(ingest.produce_stats), and what the broker holds for away sessions (ingest.broker_watch).
`pts das pull` serves the same counts as `pts_das_pull_*` with the provider id.

One registry per bridge (nothing global); `pts bridge run` serves it on
PTS_BRIDGE_METRICS_PORT (0: off). Alert rules: deploy/prometheus/pts-alerts.yml.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from ingest.bridge import Bridge
from ingest.broker_watch import BrokerCollector, BrokerWatch
from ingest.produce_stats import ProduceStats


class BridgeCollector(Collector):
    """A bridge's counts under `prefix`, labelled with `labels` (the bridge: its client id;
    `pts das pull`: the provider and the client id)."""

    def __init__(
        self, bridge: Bridge, prefix: str = "pts_bridge", labels: dict[str, str] | None = None
    ) -> None:
        self.bridge = bridge
        self.prefix = prefix
        self.labels = labels or {"client_id": bridge.source.client_id}

    def collect(
        self,
    ) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        stats = self.bridge.stats
        names, values = list(self.labels), list(self.labels.values())
        for name, doc, value in (
            ("messages", "MQTT messages forwarded and acknowledged", stats.messages),
            ("readings", "readings in them", stats.readings),
            ("records", "Kafka records produced for them", stats.records),
            ("dead_letters", "messages dead-lettered with a reason", stats.dead_letters),
            ("redelivered", "messages the broker delivered again", stats.redelivered),
        ):
            family = CounterMetricFamily(f"{self.prefix}_{name}", doc, labels=names)
            family.add_metric(values, value)
            yield family
        for name, doc, number in (
            ("mqtt_connected", "1 when connected to the broker", float(self.bridge.connected)),
            (
                "subscribed",
                "1 when its subscriptions were granted",
                float(self.bridge.subscribed.is_set()),
            ),
            (
                "last_message_timestamp_seconds",
                "when the last message was forwarded (the start time until then)",
                stats.last_message_unix,
            ),
        ):
            gauge = GaugeMetricFamily(f"{self.prefix}_{name}", doc, labels=names)
            gauge.add_metric(values, number)
            yield gauge
        produce = getattr(self.bridge.sink, "produce", None)  # a KafkaSink's; fakes: none
        if isinstance(produce, ProduceStats):
            latency = HistogramMetricFamily(
                f"{self.prefix}_kafka_produce_seconds",
                "time from sending a record to Kafka's acknowledgement (acks=all)",
                labels=names,
            )
            latency.add_metric(values, produce.cumulative(), produce.total_seconds)
            yield latency
            errors = CounterMetricFamily(
                f"{self.prefix}_kafka_produce_errors",
                "records Kafka refused or did not acknowledge (the process then stops)",
                labels=names,
            )
            errors.add_metric(values, produce.errors)
            yield errors


def bridge_registry(bridge: Bridge, watch: BrokerWatch | None = None) -> CollectorRegistry:
    """The bridge's metrics, and the broker's store and sessions when it watches them."""
    registry = CollectorRegistry()
    registry.register(BridgeCollector(bridge))
    if watch is not None:
        registry.register(BrokerCollector(watch))
    return registry


def das_pull_registry(bridge: Bridge, provider_id: str) -> CollectorRegistry:
    """`pts das pull`'s metrics: the same counts as a bridge's, `pts_das_pull_*`, by provider
    (the alert PtsDasProviderSilent watches its last message)."""
    registry = CollectorRegistry()
    labels = {"provider_id": provider_id, "client_id": bridge.source.client_id}
    registry.register(BridgeCollector(bridge, "pts_das_pull", labels))
    return registry
