"""The stream worker's and the bridge's /metrics, scraped from the real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import psycopg
import pytest

from ingest.kafka_sink import KafkaTarget
from tests.broker_accounts import TEST_USER
from tests.integration.ingest.support import Publisher, consume, free_port, start_bridge, unique
from tests.integration.ops.scrape import wait_scrape
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


async def test_worker_metrics_count_what_it_stored_and_refused(
    fresh_db: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Two registered meters' month and one unknown meter's day through a real worker: its
    /metrics counts exactly the readings stored, the refusals by reason as the dead letters
    table holds them, and a consumer lag of 0 once everything is committed."""
    raw, dead = await create_topics(kafka_bootstrap)
    series = [solar_series(f"MX{i}", START, END, seed=30 + i) for i in range(2)]
    stranger = solar_series("NOBODY", START, END, seed=40)
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, [s.meter_id for s in series])
    port = free_port()
    group = f"metrics-{uuid.uuid4().hex[:8]}"
    worker = Worker("w1", fresh_db, kafka_bootstrap, raw, dead, group, tmp_path,
                    {"PTS_STREAM_METRICS_PORT": str(port)})  # fmt: skip
    try:
        batches = [b for s in series for b in daily_batches(s)] + daily_batches(stranger)[:1]
        await produce(kafka_bootstrap, raw, keyed(batches))
        await wait_all_committed(kafka_bootstrap, group, raw, 90, [worker])
        with psycopg.connect(fresh_db) as conn:
            stored = conn.execute("SELECT count(*) FROM readings").fetchone()
            refused: dict[str, int] = dict(
                conn.execute("SELECT reason_code, count(*) FROM dead_letters GROUP BY 1")
            )
        assert stored is not None
        assert stored[0] == sum(len(s.readings) for s in series)
        assert set(refused) == {"unknown_meter"}

        def settled(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> bool:
            lag = [v for (n, _), v in samples.items() if n == "pts_stream_consumer_lag"]
            waiting = ("pts_stream_dead_letters_waiting", (("reason", "unknown_meter"),))
            # lag and dead letters are measured one after the other: wait for both
            return bool(lag) and sum(lag) == 0 and waiting in samples

        samples = await asyncio.to_thread(wait_scrape, port, settled, 60)
    finally:
        worker.stop()
        await delete_topics(kafka_bootstrap, raw, dead)
    assert samples[("pts_stream_readings_total", (("outcome", "stored"),))] == stored[0]
    assert samples[("pts_stream_readings_total", (("outcome", "conflict"),))] == 0
    assert (
        samples[("pts_stream_readings_refused_total", (("reason", "unknown_meter"),))]
        == refused["unknown_meter"]
    )
    assert samples[("pts_stream_batch_commit_seconds_count", ())] >= 1
    assert (
        samples[("pts_stream_dead_letters_waiting", (("reason", "unknown_meter"),))]
        == (refused["unknown_meter"])
    )
    assert any(
        n == "pts_stream_source_last_reading_timestamp_seconds" and v > 0
        for (n, _), v in samples.items()
    )


async def test_bridge_metrics_count_what_it_forwarded(
    mqtt_broker: tuple[str, int], kafka_bootstrap: str, kafka_target: KafkaTarget, tmp_path: Path
) -> None:
    """Five batches through `pts bridge run`: /metrics says 5 messages, their readings and
    records (5 produce latencies), no dead letter, no produce error, connected and
    subscribed."""
    host, port = mqtt_broker
    metrics_port = free_port()
    root = f"test/{unique('metrics')}"
    env = {
        **os.environ,
        "PTS_MQTT_HOST": host,
        "PTS_MQTT_PORT": str(port),
        "PTS_MQTT_USERNAME": TEST_USER[0],
        "PTS_MQTT_PASSWORD": TEST_USER[1],
        "PTS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PTS_KAFKA_READINGS_TOPIC": kafka_target.readings_topic,
        "PTS_KAFKA_DEAD_LETTER_TOPIC": kafka_target.dead_letter_topic,
        "PTS_BRIDGE_METRICS_PORT": str(metrics_port),
    }
    bridge = start_bridge(env, unique("bridge"), root, unique("g"), tmp_path / "bridge.log")
    try:
        await asyncio.to_thread(
            wait_scrape,
            metrics_port,
            lambda s: _value(s, "pts_bridge_subscribed") == 1,
        )
        publisher = Publisher(host, port)
        publisher.publish_all(
            (f"{root}/gw-1/m-{n}/readings", batch_json(make_batch([f"m-{n}"], per_meter=3)))
            for n in range(5)
        )
        publisher.close()
        await consume(kafka_bootstrap, kafka_target.readings_topic, 5)
        samples = await asyncio.to_thread(
            wait_scrape, metrics_port, lambda s: _value(s, "pts_bridge_messages_total") == 5
        )
    finally:
        bridge.send_signal(signal.SIGTERM)
        await asyncio.to_thread(bridge.wait, 20)
    assert _value(samples, "pts_bridge_readings_total") == 15
    assert _value(samples, "pts_bridge_records_total") == 5
    assert _value(samples, "pts_bridge_dead_letters_total") == 0
    assert _value(samples, "pts_bridge_mqtt_connected") == 1
    assert _value(samples, "pts_bridge_kafka_produce_seconds_count") == 5  # each record timed
    assert _value(samples, "pts_bridge_kafka_produce_errors_total") == 0


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    (value,) = [v for (n, _), v in samples.items() if n == name]
    return value
