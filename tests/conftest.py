"""Shared fixtures: where the real services started by deploy/local listen.

Integration tests talk to the real PostgreSQL, Mosquitto and Kafka that `make services-up`
(and `.ci/run`) start. They fail, never skip, when a service is down: a skipped test that
was meant to run tells nobody anything.

Storage modes: every test using `fresh_db` runs twice, `[plain]` and `[timescale]` (ADR
0006). The timescale run fails, never skips, when the server cannot load the extension; on a
machine without it, deselect those runs with `-m "not timescale"` (CI never does). A test that
keeps one mode's promise only says so with `@pytest.mark.storage_modes("plain")`.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import settings

# Hypothesis, suite-wide: no per-example deadline (200 ms by default: an example slowed by a
# loaded machine failed as DeadlineExceeded or Flaky, a verdict on the machine, not the code),
# and the same examples on every run (derandomized, as tests/fuzz: a landing must not depend
# on which examples a run happened to draw). PTS_FUZZ_RANDOM=1 explores new ones. A test's own
# @settings override these per setting.
settings.register_profile(
    "pts", deadline=None, derandomize=os.environ.get("PTS_FUZZ_RANDOM") is None
)
settings.load_profile("pts")

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


STORAGE_MODES = ("plain", "timescale")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "timescale: runs in timescale storage mode (deselect: -m 'not timescale')"
    )
    config.addinivalue_line(
        "markers", "storage_modes(*modes): the storage modes a database test runs in"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses `storage_mode` (through `fresh_db`) in each storage mode."""
    if "storage_mode" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("storage_modes")
    modes = marker.args if marker else STORAGE_MODES
    metafunc.parametrize(
        "storage_mode",
        [
            pytest.param(m, id=m, marks=[pytest.mark.timescale] if m == "timescale" else [])
            for m in modes
        ],
    )


@functools.cache
def _timescale_available(admin_url: str) -> bool:
    from storage.mode import timescale_available

    with psycopg.connect(admin_url, autocommit=True) as conn:
        return timescale_available(conn)


def require_timescale(admin_url: str) -> None:
    """Fail (never skip) when the server cannot load TimescaleDB, saying what to do."""
    if _timescale_available(admin_url):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(
            "CI runs every database test in both storage modes, but the PostgreSQL at "
            f"{admin_url} cannot load timescaledb: `make test-all` builds it with "
            "`bash deploy/local/timescaledb.sh ensure` from ../shared/vendor/"
            "timescaledb-2.28.3.tar.gz (or PTS_TIMESCALEDB_SOURCE); its log says what was missing"
        )
    pytest.fail(
        f"the PostgreSQL at {admin_url} cannot load timescaledb: install it "
        "(`bash deploy/local/timescaledb.sh install`, then `bash deploy/local/postgres.sh "
        "restart`), or run only plain mode locally with `-m 'not timescale'`"
    )


@pytest.fixture
def fresh_db(pg_admin_url: str, storage_mode: str) -> Iterator[str]:
    """A new database migrated in `storage_mode` for one test; dropped afterwards.

    Copied from a migrated template (tests/db_templates.py: seconds faster than migrating).
    Timescale background jobs stay paused: tests run them (`CALL run_job`) where they matter.
    """
    from tests.db_templates import template_for

    if storage_mode == "timescale":
        require_timescale(pg_admin_url)
    template = template_for(pg_admin_url, storage_mode)
    name = f"pts_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)
    try:
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
