"""The real services that the project's scripts start: each answers, with its security on."""

from __future__ import annotations

import time
import uuid

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.broker_accounts import TEST_USER

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
        for _ in range(300):  # up to 30 s: a loaded machine's CONNACK
            if outcome:
                break
            time.sleep(0.1)
    finally:
        client.loop_stop()
        client.disconnect()
    assert outcome, "no CONNACK from Mosquitto"
    return outcome[0]


def test_mosquitto_requires_a_password(mqtt_broker: tuple[str, int]) -> None:
    """Mosquitto accepts the test suite's own user and refuses a wrong password."""
    host, port = mqtt_broker
    assert not _connect(host, port, *TEST_USER).is_failure
    refused = _connect(host, port, "pts-test", "wrong")
    assert refused.is_failure
    assert refused.getName() in {"Not authorized", "Bad user name or password"}
