"""The bridge's Prometheus metrics, read from the running bridge at scrape time: messages,
readings, Kafka records and dead letters it forwarded (each acknowledged to MQTT only after
Kafka acknowledged it), redeliveries, and whether it is connected and subscribed.

One registry per bridge (nothing global); `pts bridge run` serves it on
PTS_BRIDGE_METRICS_PORT (0: off). Alert rules: deploy/prometheus/pts-alerts.yml.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ingest.bridge import Bridge


class BridgeCollector(Collector):
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.bridge.stats
        client_id = self.bridge.source.client_id
        for name, doc, value in (
            ("messages", "MQTT messages forwarded and acknowledged", stats.messages),
            ("readings", "readings in them", stats.readings),
            ("records", "Kafka records produced for them", stats.records),
            ("dead_letters", "messages dead-lettered with a reason", stats.dead_letters),
            ("redelivered", "messages the broker delivered again", stats.redelivered),
        ):
            family = CounterMetricFamily(f"pts_bridge_{name}", doc, labels=["client_id"])
            family.add_metric([client_id], value)
            yield family
        for name, doc, flag in (
            ("mqtt_connected", "1 when connected to the broker", self.bridge.connected),
            (
                "subscribed",
                "1 when its subscriptions were granted",
                self.bridge.subscribed.is_set(),
            ),
        ):
            gauge = GaugeMetricFamily(f"pts_bridge_{name}", doc, labels=["client_id"])
            gauge.add_metric([client_id], 1.0 if flag else 0.0)
            yield gauge


def bridge_registry(bridge: Bridge) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(BridgeCollector(bridge))
    return registry
