"""The gauge PtsGatewaySilent reads: a gateway that has just started is not 'silent'.

Before its first poll (up to one interval, 5 minutes by default) a gateway exported a last
poll at the Unix epoch, so `time() - last poll > 2 × interval` held from the first scrape and
the alert fired for every restarted gateway. The start instant stands in until a poll ends."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from gateways.agent import GatewayAgent
from gateways.agent_config import GatewayConfig
from gateways.clock import SteppedClock
from gateways.fake_publisher import InMemoryPublisher
from gateways.metrics import gateway_registry


def last_poll(agent: GatewayAgent) -> float:
    value = gateway_registry(agent).get_sample_value(
        "pts_gateway_last_poll_timestamp_seconds", {"gateway_id": "gw-s"}
    )
    assert value is not None
    return value


async def test_last_poll_is_the_start_until_a_poll_ends(tmp_path: Path) -> None:
    config = GatewayConfig(gateway_id="gw-s", spool_path=tmp_path / "s.db", meters=[])
    before = time.time()
    agent = GatewayAgent(
        config, SteppedClock(datetime(2026, 6, 1, tzinfo=UTC)), publisher=InMemoryPublisher()
    )
    after = time.time()
    try:
        started = last_poll(agent)
        assert before <= started <= after
        await agent.poll_once(datetime(2026, 6, 1, tzinfo=UTC))
        assert started <= last_poll(agent) <= time.time()
    finally:
        await agent.close()
