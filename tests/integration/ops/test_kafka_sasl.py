"""Kafka SASL/SCRAM over TLS on the local broker (deploy/local/kafka.sh, `pts kafka accounts`):
each component is its own principal and may do only its own work; the bridge, the stream
worker and `pts stream status` run over SASL_SSL with settings alone."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from pts.kafka_config import KafkaConnection, kafka_connection
from pts.kafka_topics import TopicsError, require_topics
from pts.settings import PROJECT_ROOT, Settings
from tests.integration.ingest.support import (
    Publisher,
    consume,
    start_bridge,
    unique,
    wait_event,
)
from tests.integration.stream.kafka_support import (
    Worker,
    create_topics,
    delete_topics,
    keyed,
    produce,
    wait_all_committed,
)
from tests.support import END, START, daily_batches, register_fleet, solar_series
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration

PTS = [sys.executable, "-c", "import sys; from pts.cli import main; sys.exit(main(sys.argv[1:]))"]
SASL_BOOTSTRAP = f"127.0.0.1:{os.environ.get('PTS_KAFKA_SASL_PORT', '19094')}"
LOCAL = Path(os.environ.get("PTS_LOCAL_DIR", PROJECT_ROOT / ".local"))


def sasl_env(principal: str) -> dict[str, str]:
    """The settings of a process that is `principal` on the SASL_SSL listener."""
    return {
        "PTS_KAFKA_BOOTSTRAP": SASL_BOOTSTRAP,
        "PTS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "PTS_KAFKA_USERNAME": principal,
        "PTS_KAFKA_PASSWORD_FILE": str(LOCAL / "kafka" / "secrets" / principal),
        "PTS_KAFKA_SSL_CAFILE": str(LOCAL / "tls" / "ca.crt"),
    }


def as_principal(principal: str) -> KafkaConnection:
    """The connection those settings give (pts.kafka_config, as every process builds it)."""
    env = sasl_env(principal)
    return kafka_connection(
        Settings(
            kafka_bootstrap=env["PTS_KAFKA_BOOTSTRAP"],
            kafka_security_protocol="SASL_SSL",
            kafka_username=principal,
            kafka_password_file=Path(env["PTS_KAFKA_PASSWORD_FILE"]),
            kafka_ssl_cafile=Path(env["PTS_KAFKA_SSL_CAFILE"]),
        )
    )


def pts(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PTS, *args], env=dict(os.environ) | env, capture_output=True, text=True, timeout=90,
        check=False,
    )  # fmt: skip


async def until_visible(
    principals: tuple[str, ...], names: list[str], within_s: float = 60
) -> None:
    """Wait until each principal sees the topics over SASL_SSL. Kafka answers CreateAcls once
    the controller has the rules; the broker's authorizer takes them from the metadata log a
    moment later (under load a bridge started at once was refused: "topics do not exist")."""
    deadline = time.monotonic() + within_s
    for principal in principals:
        while True:
            try:
                await require_topics(as_principal(principal), names)
                break
            except TopicsError as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{principal} still cannot see {names} {within_s} s after `pts kafka "
                        f"accounts` allowed it: {exc}"
                    ) from exc
                await asyncio.sleep(0.2)


@pytest.fixture
async def topics(kafka_bootstrap: str) -> AsyncIterator[tuple[str, str]]:
    """Private topics, with the components' ACLs on them written by `pts kafka accounts`."""
    raw, dead = await create_topics(kafka_bootstrap)
    env = {"PTS_KAFKA_BOOTSTRAP": kafka_bootstrap, "PTS_KAFKA_READINGS_TOPIC": raw,
           "PTS_KAFKA_DEAD_LETTER_TOPIC": dead}  # fmt: skip
    done = pts(["kafka", "accounts"], env)
    assert done.returncode == 0, done.stderr
    assert f"allowed pts-bridge: write topic {raw}" in done.stdout.splitlines()
    assert f"allowed pts-worker: read topic {raw}" in done.stdout.splitlines()
    await until_visible(("pts-bridge", "pts-worker"), [raw, dead])
    yield raw, dead
    await delete_topics(kafka_bootstrap, raw, dead)
    # `pts kafka accounts` converges: it took the default topics' rules away, put them back
    restored = pts(["kafka", "accounts"], {"PTS_KAFKA_BOOTSTRAP": kafka_bootstrap})
    assert restored.returncode == 0, restored.stderr


@pytest.mark.parametrize(
    ("username", "password"),
    [("pts-nobody", "guess"), ("pts-bridge", "not-its-password")],
    ids=["unknown-principal", "wrong-password"],
)
async def test_an_unknown_principal_or_wrong_password_is_refused(
    username: str, password: str
) -> None:
    """SCRAM authentication fails: the client cannot even start."""
    connection = KafkaConnection(
        SASL_BOOTSTRAP, "SASL_SSL", username=username, password=password,
        cafile=LOCAL / "tls" / "ca.crt",
    )  # fmt: skip
    producer = AIOKafkaProducer(**connection.client_kwargs(), request_timeout_ms=5000)
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()


async def test_each_principal_may_only_do_its_own_work(topics: tuple[str, str]) -> None:
    """The bridge writes readings but cannot read them; the worker reads them but cannot
    write them; the worker writes dead letters; the bridge cannot touch the worker's topics."""
    raw, dead = topics
    bridge = AIOKafkaProducer(**as_principal("pts-bridge").client_kwargs(), acks="all")
    worker_out = AIOKafkaProducer(**as_principal("pts-worker").client_kwargs(), acks="all")
    await bridge.start()
    await worker_out.start()
    try:
        await bridge.send_and_wait(raw, b"reading", key=b"M1")
        await bridge.send_and_wait(dead, b"refused", key=b"M1")
        with pytest.raises(TopicAuthorizationFailedError):
            await worker_out.send_and_wait(raw, b"forged", key=b"M1")
        await worker_out.send_and_wait(dead, b"refused by the stream", key=b"M1")
        with pytest.raises(TopicAuthorizationFailedError):
            await bridge.send_and_wait(f"pts-stream-{uuid.uuid4().hex[:6]}", b"x")
    finally:
        await bridge.stop()
        await worker_out.stop()

    async def read_one(principal: str, group: str | None) -> bytes | None:
        consumer = AIOKafkaConsumer(
            **as_principal(principal).client_kwargs(), group_id=group,
            auto_offset_reset="earliest", enable_auto_commit=False,
        )  # fmt: skip
        await consumer.start()
        try:
            consumer.assign([TopicPartition(raw, p) for p in range(4)])
            await consumer.seek_to_beginning()
            found = await consumer.getmany(timeout_ms=5000)
            value: bytes | None = next(r.value for part in found.values() for r in part)
            return value
        finally:
            await consumer.stop()

    assert await read_one("pts-worker", f"pts-stream-test-{uuid.uuid4().hex[:6]}") == b"reading"
    with pytest.raises(TopicAuthorizationFailedError):
        await read_one("pts-bridge", None)


@pytest.mark.storage_modes("plain")  # security is the point; both modes store alike
async def test_bridge_worker_and_status_run_over_sasl_ssl(
    topics: tuple[str, str],
    fresh_db: str,
    mqtt_broker: tuple[str, int],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    """`pts bridge run` as pts-bridge forwards MQTT messages; `pts stream worker` as
    pts-worker stores two meters' month and dead-letters an unknown meter; `pts stream status`
    as pts-admin reads the lag: settings alone (PTS_KAFKA_*) make them speak SASL_SSL."""
    raw, dead = topics
    host, port = mqtt_broker
    root = f"test/{unique('sasl')}"
    bridge_env = dict(os.environ) | sasl_env("pts-bridge") | {
        "PTS_MQTT_PORT": str(port), "PTS_MQTT_USERNAME": "pts-test",
        "PTS_MQTT_PASSWORD": "pts-test-secret", "PTS_KAFKA_READINGS_TOPIC": raw,
        "PTS_KAFKA_DEAD_LETTER_TOPIC": dead, "PTS_BRIDGE_METRICS_PORT": "0",
    }  # fmt: skip
    bridge = start_bridge(bridge_env, unique("sasl-bridge"), root, unique("g"), tmp_path / "b.log")
    try:
        await asyncio.to_thread(wait_event, tmp_path / "b.log", "mqtt_subscribed", 1, 60)
        meters = [f"m-{n % 3}" for n in range(12)]
        messages = [
            (f"{root}/gw-1/{m}/readings", batch_json(make_batch([m], batch_id=f"s{n}")))
            for n, m in enumerate(meters)
        ]
        publisher = Publisher(host, port)
        publisher.publish_all(messages)
        publisher.close()
        bridged = await consume(kafka_bootstrap, raw, 12, timeout_s=60)
    finally:
        bridge.terminate()
        bridge.wait(30)
    assert sorted(r.value for r in bridged) == sorted(v for _, v in messages), (
        tmp_path / "b.log"
    ).read_text()[-2000:]

    # the worker reads the bridged messages too: their meters are not registered
    series = [solar_series(f"SX{i}", START, END, seed=50 + i) for i in range(2)]
    stranger = solar_series("NOBODY", START, END, seed=60)
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, [s.meter_id for s in series])
    group = f"pts-stream-sasl-{uuid.uuid4().hex[:6]}"
    worker = Worker("w1", fresh_db, SASL_BOOTSTRAP, raw, dead, group, tmp_path,
                    sasl_env("pts-worker") | {"PTS_STREAM_METRICS_PORT": "0"})  # fmt: skip
    try:
        await produce(kafka_bootstrap, raw, keyed([b for s in series for b in daily_batches(s)]
                      + daily_batches(stranger)[:1]))  # fmt: skip
        await wait_all_committed(kafka_bootstrap, group, raw, 120, [worker])
        status = pts(["stream", "status", "--app-id", group],
                     sasl_env("pts-admin") | {"PTS_DATABASE_URL": fresh_db,
                                              "PTS_KAFKA_READINGS_TOPIC": raw})  # fmt: skip
    finally:
        worker.stop()
    with psycopg.connect(fresh_db) as conn:
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
        refused: dict[str, int] = dict(
            conn.execute("SELECT reason_code, count(*) FROM dead_letters GROUP BY 1")
        )
    assert stored == (sum(len(s.readings) for s in series),), worker.output()
    assert set(refused) == {"unknown_meter"}
    assert status.returncode == 0, status.stderr
    assert "  total lag 0 messages" in status.stdout.splitlines()
