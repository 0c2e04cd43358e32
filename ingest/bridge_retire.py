"""Retire a bridge from the shared subscription without losing its share (`pts bridge retire`).

Why: a bridge's session is persistent (stable client id, `clean_start=False`, a session
expiry of days) so that a restart loses nothing. Mosquitto hands each member of a `$share`
group its turn whether it is connected or not, so a bridge that was stopped for good keeps
receiving its share of the fleet's messages in its offline session; the gateways got their
PUBACK (delivered) and deleted those readings from their spools. Ending that session
(`pts bridge forget-session`) drops them: readings lost (tests/integration/ops/
test_scale_out.py measured about a tenth of a month lost that way).

Order (after the bridge's process was stopped):
1. connect with the retired client id, resuming its session: the broker sends what it holds
   for it (messages it had not acknowledged, then the queue);
2. UNSUBSCRIBE its filters at once: from the broker's UNSUBACK on, nothing new is routed to
   this session; the rest of the group takes every message;
3. forward each message to Kafka and acknowledge it after Kafka did (ingest.bridge, as
   always), until every message received is acknowledged and none has come for `quiet_s`;
4. disconnect, then end the session (ingest.broker_sessions.forget_session): it holds no
   subscription and no message any more. If a message arrived while the bridge was closing
   (not forwarded), the session is kept, so nothing is dropped: run the command again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.properties import Properties

from ingest.bridge import Bridge, BridgeStats, MqttSource
from ingest.broker_sessions import forget_session
from ingest.kafka_sink import KafkaTarget, RecordSink
from ingest.runner import run_bridge

log = structlog.get_logger(__name__)

QUIET_S = 2.0  # no message for this long after the UNSUBACK: the session's queue is empty


class RetiringBridge(Bridge):
    """A bridge that unsubscribes instead of subscribing, forwards what its session holds and
    stops by itself once nothing more comes."""

    def __init__(
        self,
        source: MqttSource,
        sink: RecordSink,
        max_value_bytes: int,
        quiet_s: float = QUIET_S,
    ) -> None:
        super().__init__(source, sink, max_value_bytes)
        self.quiet_s = quiet_s
        self.received = 0  # messages handed to us by the broker (acknowledged: stats.messages)
        self._left: threading.Event | None = None  # set at the UNSUBACK
        self._quiet_from: float | None = None
        self._last_received = time.monotonic()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: Any,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("mqtt_connect_refused", host=self.source.host, reason=str(reason_code))
            return
        filters = self.source.scheme.subscriptions(self.source.share_group)
        log.info("bridge_retiring", client_id=self.source.client_id, filters=filters,
                 session_present=flags.session_present)  # fmt: skip
        self._left = self.unsubscribe(filters)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.received += 1
        self._last_received = time.monotonic()
        super()._on_message(client, userdata, message)

    def drained(self) -> bool:
        """Unsubscribed, every message received acknowledged, and none for `quiet_s` (since
        the UNSUBACK at least)."""
        if self._left is None or not self._left.is_set():
            return False
        if self._quiet_from is None:
            self._quiet_from = time.monotonic()
        last = max(self._last_received, self._quiet_from)
        return self.received == self.stats.messages and time.monotonic() - last >= self.quiet_s

    async def run(self, stop: asyncio.Event) -> BridgeStats:
        async def stop_when_drained() -> None:
            while True:  # the quiet time is measured, not signalled
                if self.drained():
                    stop.set()
                    return
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(stop_when_drained(), name="bridge-retire")
        try:
            return await super().run(stop)
        finally:
            watcher.cancel()


@dataclass(frozen=True, slots=True)
class Retired:
    client_id: str
    messages: int  # forwarded to Kafka (records and dead letters) and acknowledged
    readings: int
    session_ended: bool  # False: a message came in while closing; the session is kept


async def retire_bridge(
    source: MqttSource, target: KafkaTarget, max_value_bytes: int, quiet_s: float = QUIET_S
) -> Retired:
    """Forward what the broker holds for `source.client_id`, then end its session (the
    module docstring says in which order)."""
    made: list[RetiringBridge] = []

    def make(source: MqttSource, sink: RecordSink, max_value_bytes: int) -> Bridge:
        made.append(RetiringBridge(source, sink, max_value_bytes, quiet_s))
        return made[-1]

    stats = await run_bridge(source, target, max_value_bytes, make_bridge=make)
    complete = made[0].received == stats.messages
    if complete:
        await asyncio.to_thread(
            forget_session, source.host, source.port, source.client_id, source.username,
            source.password, source.tls,
        )  # fmt: skip
    log.info("bridge_retired", client_id=source.client_id, messages=stats.messages,
             readings=stats.readings, session_ended=complete)  # fmt: skip
    return Retired(source.client_id, stats.messages, stats.readings, complete)
