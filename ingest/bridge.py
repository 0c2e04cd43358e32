"""MQTT → Kafka bridge: at-least-once, acknowledging MQTT only after Kafka acknowledged.

Order for every message (write it nowhere else):
1. the paho network thread receives a QoS 1 PUBLISH (manual ack: no PUBACK yet) and takes a
   slot of a bounded semaphore (`capacity`); the broker never has more than `capacity`
   unacknowledged messages out to us, because we also announce it as MQTT 5 Receive Maximum;
2. the asyncio side runs the envelope check (ingest.envelope) and enqueues the Kafka
   record(s) in the idempotent producer (acks=all);
3. once every record of that message is acknowledged by Kafka, PUBACK is sent (in receive
   order) and the slot is released.
A bridge killed between 1 and 3 never sent the PUBACK: the broker keeps the message in the
persistent session (clean_start=False, session expiry) and redelivers it on reconnect
(duplicates downstream are expected; the stream dedupes on (meter_id, ts)). If Kafka stops
acknowledging, the bridge stops (KafkaUnavailableError) without acking; restart it.

Backpressure: when Kafka is slow, slots run out, the broker stops sending (Receive Maximum)
and the paho thread blocks on the semaphore: memory stays bounded by `capacity` messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.envelope import DEFAULT_MAX_VALUE_BYTES, route_message
from ingest.errors import KafkaUnavailableError
from ingest.kafka_sink import RecordSink
from ingest.mqtt_tls import MqttTls, check_broker_certificate
from ingest.topics import TopicScheme

log = structlog.get_logger(__name__)

BARRIER_FILTER = "pts-bridge-barrier"  # never subscribed: its UNSUBACK only marks a point


@dataclass(frozen=True, slots=True)
class MqttSource:
    """One broker to read readings from (ours, or a DAS provider's with its credentials)."""

    host: str
    port: int
    client_id: str
    scheme: TopicScheme
    username: str | None = None
    password: str | None = None
    share_group: str | None = "bridge"
    capacity: int = 1_000  # messages received but not yet acknowledged, at most
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    tls: MqttTls | None = None  # MQTTS: the broker's certificate checked against its CA


@dataclass(slots=True)
class BridgeStats:
    """Counts of what the bridge acknowledged."""

    messages: int = 0
    readings: int = 0
    records: int = 0
    dead_letters: int = 0
    redelivered: int = 0
    last_message_unix: float = 0.0  # the last acknowledged message (the start until then)


@dataclass(frozen=True, slots=True)
class _Received:
    mid: int
    qos: int
    topic: str
    payload: bytes
    dup: bool


@dataclass(slots=True)
class _Pending:
    received: _Received
    deliveries: list[Awaitable[Any]] = field(default_factory=list)
    readings: int = 0
    records: int = 0
    dead_letters: int = 0


class Bridge:
    """Reads one MQTT source and produces to Kafka through a RecordSink."""

    def __init__(
        self,
        source: MqttSource,
        sink: RecordSink,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    ) -> None:
        if not 1 <= source.capacity <= 65_535:
            raise ValueError("capacity must be 1..65535 (MQTT Receive Maximum)")
        self.source = source
        self.stats = BridgeStats()
        self.subscribed = threading.Event()
        self.sink = sink  # a KafkaSink's produce latency and errors are in the metrics
        self._max_value_bytes = max_value_bytes
        self._slots = threading.Semaphore(source.capacity)
        self._closing = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Received messages cross from the paho thread to the loop through a deque; the loop
        # is woken (one call_soon_threadsafe, one syscall) only when the pump sleeps on an
        # empty inbox, not once per message.
        self._inbox: deque[_Received] = deque()
        self._inbox_lock = threading.Lock()
        self._pump_asleep = False
        self._inbox_ready: asyncio.Event | None = None
        self._acking: _Pending | None = None
        self._pumping = False
        self._unsubacks: dict[int, threading.Event] = {}
        self._unsubscribe_lock = threading.Lock()
        self._client = self._build_client()

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected())

    def _build_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.source.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.source.username is not None:
            client.username_pw_set(self.source.username, self.source.password)
        if self.source.tls is not None:
            client.tls_set_context(self.source.tls.context())
        client.reconnect_delay_set(min_delay=1, max_delay=15)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_unsubscribe = self._on_unsubscribe
        return client

    # --- paho network thread -------------------------------------------------------------

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
        log.info(
            "mqtt_connected",
            host=self.source.host,
            port=self.source.port,
            session_present=flags.session_present,
            subscriptions=filters,
        )
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in filters])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[Any],
        properties: Properties | None,
    ) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            log.error("mqtt_subscribe_refused", reasons=refused)
            return
        # from here on the broker routes messages to this session (a test or an operator
        # publishing before it would see them dropped: no subscriber yet)
        log.info("mqtt_subscribed", granted=[str(rc) for rc in reason_codes])
        self.subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: Any,
        properties: Properties | None,
    ) -> None:
        self.subscribed.clear()
        if not self._closing.is_set():
            log.warning("mqtt_disconnected", host=self.source.host, reason=str(reason_code))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        while not self._slots.acquire(timeout=0.5):
            if self._closing.is_set():
                return  # never acked: the broker redelivers it to the next session
        if self._closing.is_set() or self._loop is None or self._inbox_ready is None:
            self._slots.release()
            return
        payload = message.payload
        self._inbox.append(
            _Received(message.mid, message.qos, message.topic, bytes(payload), message.dup)
        )
        with self._inbox_lock:
            wake, self._pump_asleep = self._pump_asleep, False
        if wake:
            self._loop.call_soon_threadsafe(self._inbox_ready.set)

    def _on_unsubscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, codes: Any, props: Any
    ) -> None:
        with self._unsubscribe_lock:
            answered = self._unsubacks.pop(mid, None)
        if answered is not None:
            answered.set()

    def unsubscribe(self, filters: list[str]) -> threading.Event:
        """Send UNSUBSCRIBE; the event is set when the broker's UNSUBACK arrives."""
        answered = threading.Event()
        with self._unsubscribe_lock:  # an UNSUBACK waits here until its mid is known
            _, mid = self._client.unsubscribe(filters)
            if mid is None:  # not connected: no answer will come
                answered.set()
            else:
                self._unsubacks[mid] = answered
        return answered

    def _barrier(self, timeout_s: float = 5.0) -> None:
        """Return once the broker has read everything sent so far (the last PUBACKs): it
        answers an UNSUBSCRIBE of a filter we never subscribed in order, after them. Closing
        right after the PUBACKs, while the broker was still sending messages we will not
        take, reset the connection, and Mosquitto dropped the PUBACKs it had not read yet:
        it redelivered messages already forwarded to Kafka (5 to 18 per stop under load,
        tests/integration/ops/test_scale_out.py)."""
        if self._client.is_connected():
            self.unsubscribe([f"{BARRIER_FILTER}/{self.source.client_id}"]).wait(timeout_s)

    # --- asyncio side --------------------------------------------------------------------

    async def _next_received(self) -> _Received:
        """The oldest message from the paho thread, sleeping while there is none."""
        assert self._inbox_ready is not None
        while True:
            if self._inbox:
                return self._inbox.popleft()
            with self._inbox_lock:
                if self._inbox:
                    continue
                self._pump_asleep = True
                self._inbox_ready.clear()
            await self._inbox_ready.wait()

    async def _pump(self, pending: asyncio.Queue[_Pending]) -> None:
        while True:
            received = await self._next_received()
            self._pumping = True
            entry = _Pending(received)
            for record in route_message(
                self.source.scheme, received.topic, received.payload, self._max_value_bytes
            ):
                entry.deliveries.append(await self.sink.send(record))
                entry.readings += record.readings
                entry.records += 0 if record.dead_letter else 1
                if record.dead_letter:
                    entry.dead_letters += 1
                    headers = dict(record.headers)
                    log.warning(
                        "message_dead_lettered",
                        topic=received.topic,
                        reason_code=headers["reason_code"].decode(),
                        reason=headers["reason"].decode(),
                    )
            await pending.put(entry)
            self._pumping = False

    async def _acker(self, pending: asyncio.Queue[_Pending]) -> None:
        while True:
            entry = await pending.get()
            self._acking = entry
            try:
                for delivery in entry.deliveries:
                    await delivery
            except Exception as exc:
                raise KafkaUnavailableError(
                    f"Kafka did not acknowledge a record from {entry.received.topic}: {exc!r}"
                ) from exc
            if entry.received.qos > 0:
                self._client.ack(entry.received.mid, entry.received.qos)
            self._slots.release()
            self._acking = None
            stats = self.stats
            stats.messages += 1
            stats.readings += entry.readings
            stats.records += entry.records
            stats.dead_letters += entry.dead_letters
            stats.redelivered += int(entry.received.dup)
            stats.last_message_unix = time.time()

    async def _drain(
        self, pending: asyncio.Queue[_Pending], tasks: list[asyncio.Task[None]]
    ) -> None:
        """On a clean stop, finish (produce and ack) what was received, for up to 10 s."""
        for _ in range(1_000):
            if any(t.done() for t in tasks) or (
                not self._inbox and pending.empty() and not self._pumping and self._acking is None
            ):
                return
            await asyncio.sleep(0.01)

    async def run(self, stop: asyncio.Event) -> BridgeStats:
        """Bridge until `stop` is set; raise KafkaUnavailableError if Kafka stops acking,
        ConfigError (before connecting) if the broker's TLS certificate is not trusted."""
        if self.source.tls is not None:
            await asyncio.to_thread(
                check_broker_certificate, self.source.host, self.source.port, self.source.tls
            )
        self._loop = asyncio.get_running_loop()
        self.stats.last_message_unix = self.stats.last_message_unix or time.time()
        self._inbox_ready = asyncio.Event()
        pending: asyncio.Queue[_Pending] = asyncio.Queue()
        connect_properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        connect_properties.SessionExpiryInterval = self.source.session_expiry_s
        connect_properties.ReceiveMaximum = self.source.capacity
        self._client.connect_async(
            self.source.host,
            self.source.port,
            keepalive=self.source.keepalive_s,
            clean_start=False,
            properties=connect_properties,
        )
        self._client.loop_start()
        tasks = [
            asyncio.create_task(self._pump(pending), name="bridge-pump"),
            asyncio.create_task(self._acker(pending), name="bridge-acker"),
        ]
        stopper = asyncio.create_task(stop.wait(), name="bridge-stop")
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper:
                    task.result()  # re-raises what stopped a worker
        finally:
            self._closing.set()
            await self._drain(pending, tasks)
            await asyncio.to_thread(self._barrier)
            self._client.disconnect()
            for task in [*tasks, stopper]:
                task.cancel()
            for task in [*tasks, stopper]:
                with contextlib.suppress(asyncio.CancelledError, KafkaUnavailableError):
                    await task
            await asyncio.to_thread(self._client.loop_stop)
            log.info(
                "bridge_stopped",
                messages=self.stats.messages,
                readings=self.stats.readings,
                dead_letters=self.stats.dead_letters,
                redelivered=self.stats.redelivered,
            )
        return self.stats
