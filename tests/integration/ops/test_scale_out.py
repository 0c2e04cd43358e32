"""Scale-out on one machine the way it runs on several (issue 13 item 5): bridges join and
leave the MQTT shared subscription and stream workers join and leave the consumer group while
a gateway publishes a month, and no total moves by one Wh.

gateway publisher → Mosquitto → bridges ($share group) → Kafka readings.raw (4 partitions)
→ `pts stream worker` processes (one group) → PostgreSQL, all real processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiokafka.partitioner import DefaultPartitioner

from gateways.agent import batch_payload
from schemas.reading import Reading, Source
from stream.status import consumer_lag, end_offsets
from tests.broker_accounts import TEST_USER
from tests.integration.ingest.support import OwnMosquitto, unique
from tests.integration.ops.scale_support import BridgeProcess, GatewayFeed, pts
from tests.integration.stream.engines import free_port, worker_counts
from tests.integration.stream.kafka_support import (
    Worker,
    consume_all,
    group_assignments,
    stream_status,
    wait_all_committed,
    wait_for,
    wait_for_members,
)
from tests.integration.stream.test_faust import Fleet, fleet, topics
from tests.support import (
    END,
    START,
    MeterSeries,
    assert_exact,
    hourly_batches,
    register_fleet,
    solar_series,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["fleet", "topics"]  # the fixtures, shared with test_faust

GATEWAY = "gw-scale"
PARTITIONS = 4  # of readings.raw (tests.integration.stream.kafka_support.create_topics)
RATE = 200  # MQTT messages a second from the gateway (4 readings each)


def meter_ids(per_partition: int) -> list[str]:
    """Meter ids that put `per_partition` meters on each partition of readings.raw (keyed by
    meter id through the producers' murmur2 partitioner, the bridge's too), so that every
    worker of the group has readings to store whichever partitions it is given."""
    partitioner = DefaultPartitioner()
    chosen: dict[int, list[str]] = {p: [] for p in range(PARTITIONS)}
    n = 0
    while any(len(ids) < per_partition for ids in chosen.values()):
        meter_id = f"SC{n}"
        ids = chosen[partitioner(meter_id.encode(), list(range(PARTITIONS)), [])]
        if len(ids) < per_partition:
            ids.append(meter_id)
        n += 1
    return sorted(m for ids in chosen.values() for m in ids)


def month_messages(root: str, series: list[MeterSeries]) -> list[tuple[str, bytes]]:
    """One message per meter and hour, hour by hour, as a gateway publishes them."""
    by_hour = [hourly_batches(s) for s in series]
    out = []
    for hour in range(max(len(b) for b in by_hour)):
        for s, batches in zip(series, by_hour, strict=True):
            if hour < len(batches):
                body = [r.model_dump_json() for r in batches[hour]]
                out.append((f"{root}/{GATEWAY}/{s.meter_id}/readings",
                            batch_payload(GATEWAY, body)))  # fmt: skip
    return out


def poisoned(root: str, series: list[MeterSeries]) -> list[tuple[str, bytes, str, str]]:
    """(topic, payload, origin, reason_code) of six messages that must each be refused once
    (once per copy the bridges forwarded)."""
    good = series[0].readings

    def odd(meter_id: str, ts: datetime, wh: int, gateway: str = GATEWAY) -> Reading:
        return Reading(meter_id=meter_id, ts=ts, energy_wh=wh, source=Source.GATEWAY,
                       source_id=gateway, seq=9_000_000, received_at=ts)  # fmt: skip

    def one(reading: Reading, gateway: str = GATEWAY) -> bytes:
        return batch_payload(gateway, [reading.model_dump_json()])

    off_grid = datetime(2026, 3, 20, 17, 7, tzinfo=UTC)  # no good reading has this time
    m1, m2 = series[1].meter_id, series[2].meter_id
    topic = f"{root}/{GATEWAY}/{{}}/readings"
    return [
        (topic.format(m1), b'{"readings": [', "bridge", "malformed_json"),
        (topic.format(m2), batch_payload(GATEWAY, [good[5].model_dump_json()]), "bridge",
         "topic_mismatch"),
        (topic.format("GHOST"), one(odd("GHOST", off_grid, 5)), "stream", "unknown_meter"),
        (topic.format(m1), one(odd(m1, off_grid, 10**20)), "stream", "value_out_of_range"),
        (topic.format(m2), one(odd(m2, datetime(1900, 1, 1, tzinfo=UTC), 5)), "stream",
         "timestamp_out_of_range"),
        (f"{root}/gw-other/{m1}/readings", one(odd(m1, off_grid, 5, "gw-other"), "gw-other"),
         "stream", "provider_mismatch"),
    ]  # fmt: skip


def count(db: str, sql: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.storage_modes("plain")  # scaling is the point; both modes store alike
async def test_bridges_and_workers_join_and_leave_mid_stream(fleet: Fleet, tmp_path: Path) -> None:
    """Eight meters' March (DST) from a gateway, 1 bridge + 1 worker at first; while readings
    flow a second bridge and workers 2 and 3 join (one group, each gets partitions), worker 2
    stops (SIGTERM), worker 3 is SIGKILLed, the first bridge leaves; the rest finish. Every
    meter-month total equals the truth to the Wh, every reading is stored once, each of six
    poisoned messages is one dead letter, and the group's lag ends at 0."""
    broker = OwnMosquitto(tmp_path / "mq")  # its counts and sessions are this test's alone
    broker.start()
    root, group = f"test/{unique('scale')}", unique("share")
    series = [
        solar_series(m, START, END, seed=70 + i, source=Source.GATEWAY, source_id=GATEWAY)
        for i, m in enumerate(meter_ids(per_partition=2))
    ]
    with psycopg.connect(fleet.db) as conn:
        register_fleet(conn, [s.meter_id for s in series], provider=GATEWAY)
    messages = month_messages(root, series)
    poison = poisoned(root, series)
    for n, (topic, payload, _, _) in enumerate(poison):  # spread over every phase
        messages.insert((n + 1) * len(messages) // (len(poison) + 1), (topic, payload))
    expected = sum(len(s.readings) for s in series)
    env = {
        **os.environ,
        "PTS_MQTT_HOST": "127.0.0.1",
        "PTS_MQTT_PORT": str(broker.port),
        "PTS_MQTT_USERNAME": TEST_USER[0],
        "PTS_MQTT_PASSWORD": TEST_USER[1],
        "PTS_KAFKA_BOOTSTRAP": fleet.bootstrap,
        "PTS_KAFKA_READINGS_TOPIC": fleet.raw,
        "PTS_KAFKA_DEAD_LETTER_TOPIC": fleet.dead,
        "PTS_BRIDGE_METRICS_PORT": "0",
    }
    bridge_a = BridgeProcess(env, root, group, tmp_path / "bridge-a.log")
    bridge_b = BridgeProcess(env, root, group, tmp_path / "bridge-b.log")
    ports = {name: free_port() for name in ("w1", "w2", "w3")}

    def worker(name: str) -> Worker:
        return fleet.start(name, {"PTS_STREAM_METRICS_PORT": str(ports[name])})

    def stored() -> int:
        return count(fleet.db, "SELECT count(*) FROM readings")

    feed = GatewayFeed("127.0.0.1", broker.port, messages, RATE)
    began = time.monotonic()
    try:
        # 1 bridge, 1 worker
        bridge_a.start()
        w1 = worker("w1")
        await wait_for(bridge_a.subscribed, 60, "bridge A subscribed")
        await wait_for_members(fleet.bootstrap, fleet.group, 1, 60)
        feed.start()
        mark = feed.allow(0.25)
        await wait_for(lambda: stored() > 0 and feed.sent > mark // 3, 60, "readings flowing")

        # scale out while the feed runs: a second bridge and worker 2, then worker 3 joins a
        # group of two (where Faust's sticky assignor used to leave the newcomer nothing)
        joined_at = feed.sent
        bridge_b.start()
        w2 = worker("w2")
        assert joined_at < mark, "the feed had stopped before the scale-out"
        await wait_for(bridge_b.subscribed, 60, "bridge B subscribed")
        await wait_for_members(fleet.bootstrap, fleet.group, 2, 90)
        mark = await halfway(feed, 0.35)
        w3 = worker("w3")
        assert feed.sent < mark, "the feed had stopped before worker 3 joined"
        await wait_for_members(fleet.bootstrap, fleet.group, 3, 90)
        members = await group_assignments(fleet.bootstrap, fleet.group)
        shares = sorted(sum(t == fleet.raw for t, _ in m) for m in members)
        assert shares == [1, 1, 2], members  # every worker has partitions of readings.raw
        feed.allow(0.5)
        for name in ("w1", "w2", "w3"):  # and stores readings from them
            await until_stored(fleet, ports[name], name)

        # scale in, each step half-way through a stretch of the feed: worker 2 stops
        # gracefully, worker 3 is killed, bridge A stops and is retired
        mark = await halfway(feed, 0.6)
        w2.proc.send_signal(signal.SIGTERM)
        assert feed.sent < mark, "the feed had stopped before worker 2 left"
        assert w2.proc.wait(30) == 0, w2.output()[-2000:]
        mark = await halfway(feed, 0.75)
        w3.kill()
        assert feed.sent < mark, "the feed had stopped before worker 3 was killed"
        stored_at_kill = stored()  # the feed's last quarter is still to come
        mark = await halfway(feed, 0.9)
        assert feed.sent < mark, "the feed had stopped before bridge A left"
        assert bridge_a.stop() == 0
        feed.allow(1.0)  # the gateways go on publishing while the bridge is retired
        left = pts(
            ["bridge", "retire", bridge_a.client_id, "--topic-root", root, "--share-group", group],
            env,
        )
        (tmp_path / "retire.log").write_text(left.stderr)
        assert left.returncode == 0, left.stderr
        said, ended = left.stdout.splitlines()
        queued = int(said.split()[1])  # routed to A's session after it stopped
        assert ended == f"ended the session of {bridge_a.client_id}: it is out of the share group"

        # what is left finishes the month
        await wait_for(lambda: feed.done, 120, "every message delivered to a bridge")
        for topic in (fleet.raw, fleet.dead):  # the dead-letter topic: ingest's refusals
            await wait_all_committed(fleet.bootstrap, fleet.group, topic, 150, [w1])
        status = await stream_status(fleet.db, fleet.bootstrap, fleet.raw, fleet.group)
        in_raw = sum((await end_offsets(fleet.bootstrap, fleet.raw)).values())
        in_dead = sum((await end_offsets(fleet.bootstrap, fleet.dead)).values())
        forwarded: list[Any] = await consume_all(fleet.bootstrap, fleet.raw, in_raw, 30)
        dead_topic: list[Any] = await consume_all(fleet.bootstrap, fleet.dead, in_dead, 30)
        assert bridge_b.stop() == 0
        elapsed = time.monotonic() - began
    finally:
        feed.stop()
        for bridge in (bridge_a, bridge_b):
            if bridge.proc is not None:
                bridge.stop()
        fleet.stop()
        broker.stop()

    with psycopg.connect(fleet.db) as conn:
        per_meter: dict[str, int] = dict(
            conn.execute("SELECT meter_id, count(*) FROM readings GROUP BY 1").fetchall()
        )
        refused = conn.execute(
            "SELECT origin, reason_code, count(*) FROM dead_letters GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        conflicts = count(fleet.db, "SELECT count(*) FROM reading_conflicts")
    assert per_meter == {s.meter_id: len(s.readings) for s in series}
    assert sum(per_meter.values()) == expected
    assert_exact(fleet.db, series)
    assert conflicts == 0
    # Each poisoned message is one dead letter per copy of it in Kafka: the bridges forward at
    # least once (before the bridge's barrier at stop, a bridge stopped under load forwarded 5
    # to 18 messages twice: its last PUBACKs were lost), and a refusal is keyed by its Kafka
    # position. Rebalances and the killed worker's redelivered messages add no row.
    copies = {
        code: sum(r.value == payload for r in (forwarded if origin == "stream" else dead_topic))
        for _, payload, origin, code in poison
    }
    assert refused == sorted((origin, code, copies[code]) for _, _, origin, code in poison)
    assert all(n >= 1 for n in copies.values())
    assert 0 < stored_at_kill < expected  # worker 3 was killed mid-stream
    assert status[-2] == "  total lag 0 messages"
    batch_ids = Counter(json.loads(r.value)["batch_id"] for r in forwarded)
    twice = {b: n for b, n in batch_ids.items() if n > 1}
    assert bridge_a.carried() > 0
    assert queued > 0  # without `pts bridge retire` these readings were lost
    assert bridge_b.carried() > 0
    print(
        f"{len(messages)} messages, {expected} readings in {elapsed:.0f} s; bridge A carried "
        f"{bridge_a.carried()} and {queued} more when retired, B {bridge_b.carried()}; resent by "
        f"the gateway {feed.resent}; in Kafka twice (at least once) {len(twice)}; poisoned "
        f"copies {sorted(copies.values())}"
    )


async def halfway(feed: GatewayFeed, fraction: float) -> int:
    """Let the feed go on up to `fraction` and wait until it is halfway there; the mark."""
    start = feed.sent
    mark = feed.allow(fraction)
    # looked at often: the step after it must land before the mark (~1.5 s of feed away)
    await wait_for(
        lambda: feed.sent >= (start + mark) // 2, 60, f"the feed halfway to {fraction:.0%}", 0.02
    )
    return mark


async def until_stored(fleet: Fleet, port: int, name: str, within_s: float = 90) -> None:
    """Wait until the worker on metrics `port` stored a reading (it was given partitions)."""
    deadline = time.monotonic() + within_s
    while (await worker_counts(port)).new == 0:
        if time.monotonic() > deadline:
            lag = await consumer_lag(fleet.bootstrap, fleet.group, fleet.raw)
            members = await group_assignments(fleet.bootstrap, fleet.group)
            raise AssertionError(
                f"{name} stored nothing in {within_s}s; lag {lag}; assignments {members}"
            )
        await asyncio.sleep(0.3)
