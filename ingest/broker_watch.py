"""What the broker holds for clients that are away, as bridge metrics.

A persistent MQTT session outlives its client for its session expiry (the bridge asks for 7
days): the broker keeps its subscriptions and queues every matching QoS 1 message for it. A
bridge whose client id was retired (renamed host, a test's bridge, a second bridge removed)
with a subscription to all readings leaves such a session behind, and Mosquitto stores every
gateway message for it until the session expires: memory and the persistence file grow by
the whole fleet's traffic (learnt the hard way; runbook in docs/operations.md, "Retired bridge
client ids"). Only the broker can see this, in its `$SYS` topics, so the bridge process keeps
a second, small MQTT connection reading them and exports

    pts_broker_store_messages          messages held (queued for sessions, retained, in flight)
    pts_broker_store_bytes             their payload bytes
    pts_broker_clients_disconnected    persistent sessions whose client is away

(the alert PtsBrokerQueueGrowing watches the first). The connection is its own client id with
a clean session of its own; `$SYS` values arrive every `sys_interval` (10 s by default).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ingest.mqtt_tls import MqttTls

log = structlog.get_logger(__name__)

SYS_GAUGES = {
    "$SYS/broker/store/messages/count": (
        "pts_broker_store_messages",
        "messages the broker holds (queued for away sessions, retained, in flight)",
    ),
    "$SYS/broker/store/messages/bytes": (
        "pts_broker_store_bytes",
        "payload bytes of the messages the broker holds",
    ),
    "$SYS/broker/clients/disconnected": (
        "pts_broker_clients_disconnected",
        "persistent sessions whose client is not connected",
    ),
}


class BrokerWatch:
    """Reads the broker's `$SYS` counts on its own connection (paho's thread)."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        username: str | None,
        password: str | None,
        tls: MqttTls | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.values: dict[str, float] = {}
        self.received = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls is not None:
            self._client.tls_set_context(tls.context())
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, props: Any
    ) -> None:
        if not reason_code.is_failure:
            client.subscribe([(topic, 0) for topic in SYS_GAUGES])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[Any],
        properties: Properties | None,
    ) -> None:
        refused = [t for t, rc in zip(SYS_GAUGES, reason_codes, strict=False) if rc.is_failure]
        if refused:
            log.warning(
                "broker_watch_refused",
                topics=refused,
                action="grant the bridge role read access to these $SYS topics "
                "(ingest/broker_roles.py bridge_role) or run the bridge with --no-watch-broker",
            )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self.values[message.topic] = float(message.payload.decode())
        except ValueError:
            return
        self.received.set()

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 0
        self._client.connect_async(
            self.host, self.port, keepalive=60, clean_start=True, properties=props
        )
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class BrokerCollector(Collector):
    """The watch's last values as gauges (a family without a sample until one arrived)."""

    def __init__(self, watch: BrokerWatch) -> None:
        self.watch = watch

    def collect(self) -> Iterator[GaugeMetricFamily]:
        values = dict(self.watch.values)
        for topic, (name, doc) in SYS_GAUGES.items():
            family = GaugeMetricFamily(name, doc)
            if topic in values:
                family.add_metric([], values[topic])
            yield family
