"""MQTT publisher (paho-mqtt 2, MQTT 5, QoS 1, persistent session), acknowledging through
callbacks.

The paho network loop runs in its own thread; PUBACKs are handed to the asyncio side through
a thread-safe queue as `Ack(mid, delivered, reason)`. The number of unacknowledged messages
is bounded by the caller (the agent keeps at most `max_inflight` batches out), well below the
65,535 message ids.

MQTT 5 because its PUBACK says what became of a message: `Success` (someone subscribed took
it), `No matching subscribers` (nobody was subscribed: the broker dropped it), `Not
authorized` (the broker's role refused the topic). MQTT 3.1.1 acknowledges all three alike,
and a gateway that deleted its spooled reading on such a PUBACK lost it: measured when
Mosquitto 2.0.11 restarted, which does not restore the bridge's shared subscription; what the
gateways sent before the bridge subscribed again was dropped. Only a delivered message's
readings leave the spool.
"""

from __future__ import annotations

import queue
import ssl
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = structlog.get_logger(__name__)


def readings_topic(gateway_id: str, meter_id: str) -> str:
    return f"pts/v1/{gateway_id}/{meter_id}/readings"


NO_MATCHING_SUBSCRIBERS = 16  # MQTT 5 PUBACK reason 0x10: accepted, but nobody took it
SESSION_EXPIRY_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Ack:
    """The broker's answer to one QoS 1 message."""

    mid: int
    delivered: bool  # False: nobody subscribed, or the broker refused the topic
    reason: str


@runtime_checkable
class Publisher(Protocol):
    """The agent's port to a broker: `MqttPublisher` is the real one, `gateways.fake_publisher.
    InMemoryPublisher` the fake its delivery logic is tested with. `connected` is set while a
    session is up; every published message is answered once on `acks` (from any thread)."""

    connected: threading.Event
    acks: queue.SimpleQueue[Ack]

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def publish(self, topic: str, payload: bytes) -> int:
        """Queue a QoS 1 message; its message id (answered later on `acks`)."""
        ...


@dataclass(frozen=True, slots=True)
class TlsSettings:
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None


class MqttPublisher:
    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        tls: TlsSettings | None = None,
    ) -> None:
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        # persistent session: the broker keeps our unacknowledged QoS 1 state across drops
        self._connect_props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        self._connect_props.SessionExpiryInterval = SESSION_EXPIRY_S
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls is not None:
            self._client.tls_set(
                ca_certs=str(tls.ca_file),
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self._client.max_inflight_messages_set(100)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_connect_fail = self._on_connect_fail
        self._host, self._port = host, port
        self.acks: queue.SimpleQueue[Ack] = queue.SimpleQueue()
        self.connected = threading.Event()
        self.last_refusal: str | None = None
        self._started = False
        self._failure_logged = False

    def start(self) -> None:
        """Connect once now, so that a refusal is logged with its reason; then paho's network
        thread keeps the connection, reconnecting with backoff. A certificate that does not
        verify is permanent until the configuration changes: it is logged as an error and no
        reconnect loop is started (readings stay in the spool)."""
        tls_error: str | None = None
        # paho drops a half-open TLS socket without closing it when the handshake fails; the
        # socket is freed with the exception, and its ResourceWarning is paho's, not ours.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                self._client.connect(
                    self._host,
                    self._port,
                    keepalive=30,
                    clean_start=False,
                    properties=self._connect_props,
                )
            except ssl.SSLError as exc:
                tls_error = str(exc)
            except (OSError, ValueError) as exc:
                self.last_refusal = str(exc)
                self._failure_logged = True
                log.warning("mqtt_connect_failed", reason=str(exc), host=self._host,
                            port=self._port, retrying=True)  # fmt: skip
                self._client.connect_async(
                    self._host,
                    self._port,
                    keepalive=30,
                    clean_start=False,
                    properties=self._connect_props,
                )
        if tls_error is not None:
            self.last_refusal = tls_error
            log.error("mqtt_connect_failed", reason=tls_error, host=self._host, port=self._port,
                      retrying=False)  # fmt: skip
            return
        self._client.loop_start()
        self._started = True

    def stop(self) -> None:
        if self._started:
            self._client.disconnect()
            self._client.loop_stop()
            self._started = False

    def publish(self, topic: str, payload: bytes) -> int:
        """Queue a QoS 1 message; return its message id (acknowledged later through `acks`)."""
        info = self._client.publish(topic, payload, qos=1)
        return int(info.mid)

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: ReasonCode, props: object
    ) -> None:
        if rc.is_failure:
            self.last_refusal = str(rc)
            log.error("mqtt_connect_refused", reason=str(rc), host=self._host, port=self._port)
            return
        self.connected.set()
        self._failure_logged = False
        log.info("mqtt_connected", host=self._host, port=self._port)

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        if not self._failure_logged:  # once per outage, not once per retry
            self._failure_logged = True
            log.warning("mqtt_connect_failed", host=self._host, port=self._port, retrying=True)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: ReasonCode, props: object
    ) -> None:
        self.connected.clear()
        if rc.is_failure:
            log.warning("mqtt_disconnected", reason=str(rc))

    def _on_publish(
        self, client: mqtt.Client, userdata: object, mid: int, rc: ReasonCode, props: object
    ) -> None:
        delivered = not rc.is_failure and rc.value != NO_MATCHING_SUBSCRIBERS
        self.acks.put(Ack(mid, delivered, str(rc)))
