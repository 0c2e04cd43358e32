"""The whole pipeline on the real services: simulated meters → gateway → Mosquitto → bridge
→ Kafka → Faust worker → PostgreSQL, for a month with a DST change, checked to the Wh."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from gateways.agent import GatewayAgent
from gateways.clock import SteppedClock
from gateways.simulator.fleet import make_fleet
from gateways.simulator.meter import ACC32, Faults
from pts.demo import registry_records
from storage import registry_store
from stream.calendar import month_bounds
from tests.broker_accounts import GATEWAY_USER, TEST_USER
from tests.integration.gateways.support import OwnMosquitto, gateway_config
from tests.integration.ingest.support import wait_event
from tests.integration.stream.kafka_support import Worker, create_topics, delete_topics, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MONTH = "2026-03"  # DST starts on Mar 8 in New York (and the month is in the past)


@pytest.fixture
async def topics(kafka_bootstrap: str) -> AsyncIterator[tuple[str, str]]:
    raw, dead = await create_topics(kafka_bootstrap)
    yield raw, dead
    await delete_topics(kafka_bootstrap, raw, dead)


def start_bridge(
    port: int, bootstrap: str, raw: str, dead: str, log: Path
) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ, PTS_MQTT_HOST="127.0.0.1", PTS_MQTT_PORT=str(port),
        PTS_MQTT_USERNAME=TEST_USER[0], PTS_MQTT_PASSWORD=TEST_USER[1],
        PTS_KAFKA_BOOTSTRAP=bootstrap, PTS_KAFKA_READINGS_TOPIC=raw,
        PTS_KAFKA_DEAD_LETTER_TOPIC=dead, PTS_LOG_FORMAT="json",
    )  # fmt: skip
    group = f"e2e{uuid.uuid4().hex[:6]}"
    return subprocess.Popen(
        [sys.executable, "-c", "from pts.cli import main; main()", "bridge", "run",
         "--client-id", f"bridge-{group}", "--share-group", group],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


async def test_month_through_every_stage_equals_ground_truth(
    fresh_db: str,
    kafka_bootstrap: str,
    topics: tuple[str, str],
    tmp_path: Path,
) -> None:
    """6 meters (one rolls over, one goes offline for a day), hourly polls, all of March."""
    # a broker of its own: on the shared one, other tests' gateways publish the same
    # simulated meter ids (SIM-0000 …) as gw-test, and a bridge under pts/v1/# takes them too
    broker = OwnMosquitto(tmp_path / "broker")
    broker.start()
    mqtt_port = broker.port
    raw, dead = topics
    start, end = month_bounds(MONTH, ZoneInfo("America/New_York"))
    clock = SteppedClock(start)
    faults = {1: Faults(offline=((start + timedelta(days=9), start + timedelta(days=10)),))}
    fleet = make_fleet(clock, 6, start - timedelta(days=1), seed=11, faults=faults)
    fleet.meters[2].start_register_wh = ACC32 - 2_000_000  # wraps early in the month
    await fleet.start()
    with psycopg.connect(fresh_db) as conn:
        # this gateway does not sign (signed batches have their own end-to-end tests in
        # tests/integration/provenance)
        registry_store.upsert(conn, registry_records(fleet, GATEWAY_USER[0], signed=False))
    bridge_log = (tmp_path / "bridge.log").open("wb")
    bridge = start_bridge(mqtt_port, kafka_bootstrap, raw, dead, bridge_log)
    worker = Worker("w1", fresh_db, kafka_bootstrap, raw, dead, f"e2e-{uuid.uuid4().hex[:6]}",
                    tmp_path)  # fmt: skip
    config = gateway_config(fleet, mqtt_port, tmp_path / "spool.db").model_copy(
        update={"interval_s": 3600}
    )
    agent = GatewayAgent(config, clock)
    agent.publisher.start()
    ticks = int((end - start) / timedelta(hours=1)) + 1
    try:
        assert await asyncio.to_thread(agent.publisher.connected.wait, 30)
        await asyncio.to_thread(wait_event, tmp_path / "bridge.log", "mqtt_subscribed", 1, 60)
        for index in range(ticks):
            tick = start + timedelta(hours=index)
            clock.set(tick)
            await agent.poll_once(tick)
            if index % 24 == 0:
                await asyncio.sleep(0)
        assert await agent.drain(seconds=120)
        expected = sum(len(m.served) for m in fleet.meters)

        def stored() -> int:
            with psycopg.connect(fresh_db) as conn:
                row = conn.execute("SELECT count(*) FROM readings").fetchone()
            return int(row[0]) if row else 0

        # the rollups commit in the transaction of their readings (stream.persist)
        await wait_for(lambda: stored() == expected, 240, f"{expected} readings in PostgreSQL")
    finally:
        await agent.close()
        await fleet.stop()
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(30)
        bridge_log.close()
        worker.stop()
        broker.stop()
    with psycopg.connect(fresh_db) as conn:
        totals = dict(
            conn.execute(
                "SELECT meter_id, energy_wh FROM meter_month_energy WHERE month = %s",
                (date.fromisoformat(f"{MONTH}-01"),),
            ).fetchall()
        )
        dead_rows = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    truth = {m.meter_id: m.truth_wh(start, end) for m in fleet.meters}
    assert totals == truth
    assert dead_rows == (0,)
    assert len(fleet.meters[1].served) < ticks  # the offline day really was missing
