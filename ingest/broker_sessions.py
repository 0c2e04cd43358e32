"""End a retired bridge's persistent session on the broker (`pts bridge forget-session`).

A bridge connects with a stable client id, `clean_start=False` and a long session expiry, so
the broker keeps its subscription and queues every readings message while it is down. When
a client id is retired for good (a renamed host, a bridge removed from the shared
subscription, a test's bridge), that session keeps collecting the whole fleet's messages
until it expires. To end it: connect once with that client id asking to resume
(`clean_start=False`, which tells us in CONNACK whether a session was there), announce a
session expiry of 0 and a receive maximum of 1 (at most one queued message comes our way and
is never acknowledged), then disconnect: the broker deletes the session, its subscriptions
and its queue. A running bridge with that client id would be disconnected by this (the
broker takes the id over); it reconnects with a fresh, empty session.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.errors import ConfigError, TransientError
from ingest.mqtt_tls import MqttTls, check_broker_certificate


@dataclass(frozen=True, slots=True)
class Forgotten:
    client_id: str
    session_present: bool


def forget_session(
    host: str,
    port: int,
    client_id: str,
    username: str | None,
    password: str | None,
    tls: MqttTls | None = None,
    timeout_s: float = 15,
) -> Forgotten:
    """Delete `client_id`'s session on the broker; say whether there was one."""
    if tls is not None:
        check_broker_certificate(host, port, tls)
    connected = threading.Event()
    outcome: dict[str, Any] = {}
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
    )
    if username is not None:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set_context(tls.context())

    def on_connect(c: mqtt.Client, u: Any, flags: Any, reason_code: Any, props: Any) -> None:
        outcome["refused"] = str(reason_code) if reason_code.is_failure else None
        outcome["session_present"] = bool(flags.session_present)
        connected.set()

    client.on_connect = on_connect
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    props.ReceiveMaximum = 1
    try:
        client.connect(host, port, keepalive=30, clean_start=False, properties=props)
    except OSError as exc:
        raise TransientError(f"the MQTT broker at {host}:{port} is not reachable: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise TransientError(f"no CONNACK from the MQTT broker at {host}:{port}")
        if outcome["refused"]:
            raise ConfigError(
                f"the MQTT broker at {host}:{port} refused {username!r} ({outcome['refused']})"
            )
    finally:
        client.disconnect()
        client.loop_stop()
    return Forgotten(client_id, outcome["session_present"])
