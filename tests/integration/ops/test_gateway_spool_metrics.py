"""A gateway whose broker is unreachable: its /metrics show the spool filling — readings,
bytes, the oldest reading's age — and the broker disconnected (what PtsGatewaySpoolFilling
and PtsGatewayDisconnected watch)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateways.agent import GatewayAgent
from gateways.clock import SteppedClock
from gateways.metrics import gateway_registry
from gateways.simulator.fleet import make_fleet
from tests.integration.gateways.support import gateway_config
from tests.integration.ingest.support import free_port

pytestmark = pytest.mark.integration


async def test_the_spool_gauges_move_while_the_broker_is_away(tmp_path: Path) -> None:
    """3 meters, 4 polls an hour ago, no broker listening: 12 readings polled and spooled,
    none published; the spool gauges hold exactly what the spool holds, the oldest reading
    is about an hour old, and the broker is reported disconnected."""
    now = datetime.now(UTC)
    t0 = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    clock = SteppedClock(t0)
    fleet = make_fleet(clock, 3, t0 - timedelta(days=1), seed=8)
    await fleet.start()
    agent = GatewayAgent(gateway_config(fleet, free_port(), tmp_path / "spool.db"), clock)
    agent.publisher.start()  # it keeps trying; nothing listens on that port
    registry = gateway_registry(agent)

    def value(name: str) -> float:
        found = registry.get_sample_value(f"pts_gateway_{name}", {"gateway_id": "gw-test"})
        assert found is not None, name
        return found

    try:
        assert value("spool_readings") == 0
        assert value("spool_bytes") == 0
        assert value("spool_oldest_age_seconds") == 0
        for i in range(4):
            tick = t0 + timedelta(minutes=5 * i)
            clock.set(tick)
            await agent.poll_once(tick)
        assert value("readings_polled_total") == 12
        assert value("readings_spooled_total") == 12
        assert value("readings_published_total") == 0
        assert value("readings_acknowledged_total") == 0
        assert value("spool_readings") == 12
        assert value("spool_bytes") == agent.spool.size_bytes() > 0
        oldest = agent.spool.oldest_ts()
        assert oldest == t0
        age = value("spool_oldest_age_seconds")
        assert (now - t0).total_seconds() <= age <= (datetime.now(UTC) - t0).total_seconds()
        assert value("mqtt_connected") == 0
    finally:
        await agent.close()
        await fleet.stop()
