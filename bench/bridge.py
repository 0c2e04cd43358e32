"""Bridge benchmark: MQTT → bridge → Kafka beside raw MQTT pub/sub and raw Kafka produce.

    python bench/bridge.py [--messages 5000] [--readings 10] [--meters 50]

Same payloads (ReadingBatch JSON, `--readings` readings each) in all three runs, on the real
Mosquitto (pts-test user, a private topic root) and Kafka (private topics):
1. raw MQTT: one QoS 1 publisher and one QoS 1 subscriber (no Kafka) — ceiling of the MQTT leg;
2. raw Kafka: one idempotent acks=all aiokafka producer (no MQTT) — ceiling of the Kafka leg;
3. bridge: `pts bridge run` in its own process; the QoS 1 publisher here; done when a
   consumer here has read every record from the readings topic (MQTT in → Kafka committed).
Prints messages/s and readings/s, and the bridge's share of the slower ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from paho.mqtt.enums import CallbackAPIVersion

from schemas.reading import Reading, ReadingBatch, Source

HOST, PORT = "127.0.0.1", int(os.environ.get("PTS_MQTT_PORT", "11883"))
KAFKA = os.environ.get("PTS_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
# the test suite's own broker account (the broker ships none): made through its admin API
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.broker_accounts import TEST_USER as USER  # noqa: E402 - after the path above
from tests.broker_accounts import ensure_test_accounts  # noqa: E402 - after the path above

WINDOW = 1_000  # unacknowledged QoS 1 publishes at most (ids wrap at 65,535)


def make_messages(root: str, count: int, readings: int, meters: int) -> list[tuple[str, bytes]]:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for n in range(count):
        meter = f"bm-{n % meters}"
        step = n // meters
        batch = ReadingBatch(
            batch_id=f"bench-{n}",
            source=Source.GATEWAY,
            source_id="gw-bench",
            sent_at=t0,
            readings=tuple(
                Reading(
                    meter_id=meter,
                    ts=t0 + timedelta(minutes=(step * readings + i)),
                    energy_wh=1_000 + step * readings + i,
                    source=Source.GATEWAY,
                    source_id="gw-bench",
                    seq=step * readings + i,
                    received_at=t0,
                )
                for i in range(readings)
            ),
        )
        out.append((f"{root}/gw-bench/{meter}/readings", batch.model_dump_json().encode()))
    return out


def mqtt_client(name: str) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{name}-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(*USER)
    return client


def publish(messages: list[tuple[str, bytes]]) -> float:
    """Publish QoS 1 with a bounded window; seconds until the broker acked the last one."""
    client = mqtt_client("bench-pub")
    client.max_inflight_messages_set(100)
    window = threading.Semaphore(WINDOW)
    client.on_publish = lambda *a: window.release()
    client.connect(HOST, PORT)
    client.loop_start()
    start = time.perf_counter()
    infos = []
    for topic, payload in messages:
        window.acquire()
        infos.append(client.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(60)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return elapsed


def raw_mqtt(root: str, messages: list[tuple[str, bytes]]) -> float:
    got = 0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(*_: object) -> None:
        nonlocal got
        got += 1
        if got == len(messages):
            done.set()

    sub = mqtt_client("bench-sub")
    sub.on_message = on_message
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect(HOST, PORT)
    sub.loop_start()
    sub.subscribe(f"{root}/+/+/readings", qos=1)
    subscribed.wait(10)
    start = time.perf_counter()
    publish(messages)
    done.wait(120)
    elapsed = time.perf_counter() - start
    sub.disconnect()
    sub.loop_stop()
    assert got == len(messages), f"raw MQTT: {got} of {len(messages)}"
    return elapsed


async def raw_kafka(topic: str, messages: list[tuple[str, bytes]]) -> float:
    await make_topics(topic)  # the broker creates no topic on first use
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=1_048_576,
    )
    await producer.start()
    try:
        start = time.perf_counter()
        futures = [
            await producer.send(topic, value=payload, key=t.split("/")[-2].encode())
            for t, payload in messages
        ]
        await asyncio.gather(*futures)
        return time.perf_counter() - start
    finally:
        await producer.stop()


async def count_records(topic: str, expected: int, timeout_s: float) -> int:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got = 0
    deadline = time.monotonic() + timeout_s
    try:
        while got < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100, max_records=10_000)
            got += sum(len(part) for part in batch.values())
    finally:
        await consumer.stop()
    return got


async def make_topics(topic: str) -> None:
    """The readings and dead-letter topics the bench bridge produces to."""
    from pts.kafka_config import KafkaConnection
    from pts.kafka_topics import TopicSpec, ensure_topics

    specs = [TopicSpec(topic, 4, 1, 24), TopicSpec(topic + ".dead", 1, 1, 24)]
    await ensure_topics(KafkaConnection(KAFKA), specs)


async def delete_topics(prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


PTS = [sys.executable, "-c", "import sys; from pts.cli import main; sys.exit(main(sys.argv[1:]))"]


def bridge_env(topic: str) -> dict[str, str]:
    """The environment of a bench `pts bridge run` producing to `topic`."""
    return {
        **os.environ,
        "PTS_MQTT_USERNAME": USER[0],
        "PTS_MQTT_PASSWORD": USER[1],
        "PTS_KAFKA_READINGS_TOPIC": topic,
        "PTS_KAFKA_DEAD_LETTER_TOPIC": topic + ".dead",
        "PTS_LOG_LEVEL": "warning",
    }


def bridge_args(root: str) -> list[str]:
    """`pts bridge run` arguments: one shared group, a short session, a fresh client id."""
    return [
        "bridge",
        "run",
        "--topic-root",
        root,
        "--share-group",
        "bench",
        "--session-expiry",
        "60",
        "--client-id",
        f"bench-bridge-{uuid.uuid4().hex[:8]}",
    ]


def wait_subscribed(bridge: subprocess.Popen[bytes], log: Path, timeout_s: float = 120) -> None:
    """Until the bridge logged its subscription (it takes seconds on a loaded machine)."""
    deadline = time.monotonic() + timeout_s
    while b'"mqtt_subscribed"' not in log.read_bytes():
        if bridge.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the bench bridge did not subscribe; its log:\n{log.read_text()}")
        time.sleep(0.1)


def bridged(root: str, messages: list[tuple[str, bytes]], topic: str) -> float:
    asyncio.run(make_topics(topic))  # the broker creates no topic on first use
    log = Path(tempfile.mkdtemp(prefix="bench-bridge-")) / "bridge.log"
    env = bridge_env(topic) | {"PTS_LOG_LEVEL": "info", "PTS_LOG_FORMAT": "json"}
    bridge = subprocess.Popen(
        [*PTS, *bridge_args(root)], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        asyncio.run(count_records(topic, 0, 0))  # warm up metadata
        wait_subscribed(bridge, log)  # what is published before that has nobody to go to
        result: dict[str, float] = {}

        def consume() -> None:
            start = time.perf_counter()
            got = asyncio.run(count_records(topic, len(messages), 180))
            result["elapsed"] = time.perf_counter() - start
            result["got"] = got

        consumer = threading.Thread(target=consume)
        consumer.start()
        publish(messages)
        consumer.join()
        assert result["got"] >= len(messages), f"bridge: {result['got']} of {len(messages)}"
        return result["elapsed"]
    finally:
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--readings", type=int, default=10, help="readings per message")
    parser.add_argument("--meters", type=int, default=50)
    args = parser.parse_args()
    ensure_test_accounts(PORT)
    run_id = uuid.uuid4().hex[:8]
    root = f"test/bench-{run_id}"
    topics = f"bench.{run_id}."
    messages = make_messages(root, args.messages, args.readings, args.meters)
    size = sum(len(p) for _, p in messages) / len(messages)
    print(f"{args.messages} messages x {args.readings} readings ({size:.0f} B each)")
    try:
        figures = {
            "raw MQTT pub/sub (QoS 1)": raw_mqtt(root, messages),
            "raw Kafka produce (idempotent, acks=all)": asyncio.run(
                raw_kafka(topics + "raw", messages)
            ),
            "bridge MQTT → Kafka (end to end)": bridged(root, messages, topics + "bridged"),
        }
    finally:
        asyncio.run(delete_topics(topics))
    for name, seconds in figures.items():
        rate = args.messages / seconds
        print(f"  {name:42s} {rate:9,.0f} msg/s {rate * args.readings:11,.0f} readings/s")
    ceiling = max(list(figures.values())[:2])
    share = ceiling / list(figures.values())[2]
    print(f"  bridge = {share:.0%} of the slower ceiling")


if __name__ == "__main__":
    main()
