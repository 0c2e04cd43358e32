"""Shared fixtures: where the real services started by deploy/local listen.

Integration tests talk to the real PostgreSQL, Mosquitto and Kafka that `make services-up`
(and `.ci/run`) start. They fail, never skip, when a service is down: a skipped test that
was meant to run tells nobody anything.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import psycopg
import pytest

PG_URL = os.environ.get("PTS_TEST_DATABASE_URL", "postgresql://pts@127.0.0.1:15432/pts")
MQTT_HOST = "127.0.0.1"
MQTT_PORT = int(os.environ.get("PTS_MQTT_PORT", "11883"))
KAFKA_BOOTSTRAP = os.environ.get("PTS_KAFKA_BOOTSTRAP", "127.0.0.1:19092")


def _require_port(host: str, port: int, what: str) -> None:
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError:
        pytest.fail(f"{what} is not listening on {host}:{port}; start it with `make services-up`")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of the maintenance database of the local PostgreSQL cluster."""
    info = psycopg.conninfo.conninfo_to_dict(PG_URL)
    _require_port(str(info.get("host", "127.0.0.1")), int(info.get("port", 5432)), "PostgreSQL")
    return PG_URL


@pytest.fixture
def fresh_db(pg_admin_url: str) -> Iterator[str]:
    """A new, empty, migrated database for one test; dropped afterwards."""
    from storage.migrate import migrate

    name = f"pts_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def mqtt_broker() -> tuple[str, int]:
    """(host, port) of the local Mosquitto, with the test suite's own accounts made through
    its admin API (tests/broker_accounts.py: pts-test and gw-test; the broker ships none)."""
    from tests.broker_accounts import ensure_test_accounts

    _require_port(MQTT_HOST, MQTT_PORT, "Mosquitto")
    ensure_test_accounts(MQTT_PORT)
    return MQTT_HOST, MQTT_PORT


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """bootstrap servers of the local Kafka (KRaft) broker."""
    host, port = KAFKA_BOOTSTRAP.split(",")[0].rsplit(":", 1)
    _require_port(host, int(port), "Kafka")
    return KAFKA_BOOTSTRAP
