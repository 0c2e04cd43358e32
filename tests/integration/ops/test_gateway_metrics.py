"""The gateway's /metrics scraped by a real Prometheus that loads the project's alert rules;
the alert rules' own unit tests run with promtool."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateways.agent import GatewayAgent
from gateways.clock import SteppedClock
from gateways.meters import MeterConfig
from gateways.metrics import gateway_registry
from gateways.simulator.fleet import make_fleet
from pts.metrics_server import serve
from tests.integration.gateways.support import Recorder, gateway_config
from tests.integration.ingest.support import free_port
from tests.integration.ops.prometheus import ROOT, OwnPrometheus

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 4, tzinfo=UTC)


def test_alert_rules_pass_their_unit_tests() -> None:
    """`promtool check rules` and `promtool test rules` on deploy/prometheus/."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed (Debian package `prometheus`)"
    folder = ROOT / "deploy" / "prometheus"
    for args in (["check", "rules", "pts-alerts.yml"], ["test", "rules", "pts-alerts.test.yml"]):
        # promtool's rule tests take ~6 s of CPU: 40-60 s on a loaded 2-core machine
        result = subprocess.run(
            [promtool, *args], cwd=folder, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


async def test_prometheus_scrapes_what_the_gateway_did(
    mqtt_broker: tuple[str, int], tmp_path: Path
) -> None:
    """4 meters answer and one never does, 12 polls: Prometheus sees 48 readings polled,
    spooled, published and acknowledged, 12 failed polls, an empty spool, a connected
    broker; the alert rules are loaded and no gateway alert fires (one may be pending: the
    failed polls' increase, if a scrape came between them, until its `for:`)."""
    _, port = mqtt_broker
    clock = SteppedClock(T0)
    fleet = make_fleet(clock, 4, T0, seed=5)
    await fleet.start()
    config = gateway_config(fleet, port, tmp_path / "spool.db")
    dead = MeterConfig(meter_id="DEAD-1", host="127.0.0.1", port=free_port(), unit_id=1,
                       map="pts-sim-uint32-le")  # fmt: skip
    config = config.model_copy(update={"meters": [*config.meters, dead], "timeout_s": 1.0})
    agent = GatewayAgent(config, clock)
    metrics_port = free_port()
    assert serve(gateway_registry(agent), metrics_port)
    prometheus = OwnPrometheus(
        tmp_path / "prometheus", {"pts-gateway": [f"127.0.0.1:{metrics_port}"]}
    )
    # a reader: a gateway keeps a reading until the broker says someone took it
    reader = Recorder("127.0.0.1", port, "pts/v1/gw-test/+/readings")
    agent.publisher.start()
    try:
        assert await asyncio.to_thread(agent.publisher.connected.wait, 30)
        for i in range(12):
            tick = T0 + timedelta(minutes=5 * i)
            clock.set(tick)
            await agent.poll_once(tick)
        assert await agent.drain(seconds=30)
        gw = {"gw-test": 48.0}
        for name in ("polled", "spooled", "published", "acknowledged"):
            await asyncio.to_thread(prometheus.wait_for, f"pts_gateway_readings_{name}_total", gw)
        await asyncio.to_thread(
            prometheus.wait_for, "pts_gateway_poll_failures_total", {"gw-test": 12.0}
        )
        await asyncio.to_thread(prometheus.wait_for, "pts_gateway_spool_readings", {"gw-test": 0})
        await asyncio.to_thread(prometheus.wait_for, "pts_gateway_mqtt_connected", {"gw-test": 1})
        await asyncio.to_thread(prometheus.wait_for, 'up{job="pts-gateway"}', {"pts-gateway": 1})
        assert "pts-gateway" in prometheus.rule_groups()
        assert prometheus.query('ALERTS{alertname=~"PtsGateway.*", alertstate="firing"}') == {}
    finally:
        prometheus.stop()
        await agent.close()
        reader.stop()
        await fleet.stop()
