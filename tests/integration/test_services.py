"""The real services that the project's scripts start: each answers, with its security on."""

from __future__ import annotations

import asyncio
import time
import uuid

import paho.mqtt.client as mqtt
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

pytestmark = pytest.mark.integration


def test_postgres_answers(pg_admin_url: str) -> None:
    """The private PostgreSQL cluster answers on loopback."""
    with psycopg.connect(pg_admin_url) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int >= 150000").fetchone()
    assert row == (True,)


def _connect(host: str, port: int, user: str, password: str) -> ReasonCode:
    outcome: list[ReasonCode] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    client.username_pw_set(user, password)
    client.on_connect = lambda c, u, flags, rc, props: outcome.append(rc)
    client.connect(host, port)
    client.loop_start()
    try:
        for _ in range(50):
            if outcome:
                break
            time.sleep(0.1)
    finally:
        client.loop_stop()
        client.disconnect()
    assert outcome, "no CONNACK from Mosquitto"
    return outcome[0]


def test_mosquitto_requires_a_password(mqtt_broker: tuple[str, int]) -> None:
    """Mosquitto accepts the test user and refuses a wrong password."""
    host, port = mqtt_broker
    assert not _connect(host, port, "pts-test", "pts-test-secret").is_failure
    refused = _connect(host, port, "pts-test", "wrong")
    assert refused.is_failure
    assert refused.getName() in {"Not authorized", "Bad user name or password"}


async def test_kafka_produces_and_consumes(kafka_bootstrap: str) -> None:
    """A message produced to the KRaft broker comes back to a consumer, key and value intact."""
    topic = f"test.services.{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"meter-1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"meter-1", b"hello")
