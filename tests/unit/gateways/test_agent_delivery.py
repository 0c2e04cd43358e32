"""The agent's delivery logic against an in-memory publisher (no broker): a reading leaves
the spool only when its message was delivered, an undelivered one is sent again, readings
spooled while disconnected (or sent before a reconnect) go out flagged REPLAYED, and no more
than max_inflight messages are ever unacknowledged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateways.agent import GatewayAgent
from gateways.agent_config import GatewayConfig
from gateways.clock import SteppedClock
from gateways.fake_publisher import InMemoryPublisher
from gateways.publisher import Publisher
from gateways.sample import MeterSample
from schemas.reading import QualityFlag, ReadingBatch

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def sample(i: int, meter_id: str = "M1") -> MeterSample:
    return MeterSample(meter_id=meter_id, ts=T0 + timedelta(minutes=5 * i), gateway_ts=T0,
                       energy_wh=1_000 + i, unit_id=1, scale_factor=0, raw_words=(0, i),
                       register_modulus_wh=None)  # fmt: skip


@pytest.fixture
def fake() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def agent(tmp_path: Path, fake: InMemoryPublisher) -> GatewayAgent:
    config = GatewayConfig(gateway_id="gw-1", meters=[], spool_path=tmp_path / "spool.sqlite",
                           max_batch=2, max_inflight=2)  # fmt: skip
    return GatewayAgent(config, SteppedClock(T0), publisher=fake)


def batch(payload: bytes) -> ReadingBatch:
    return ReadingBatch.model_validate_json(payload)


def replayed(fake: InMemoryPublisher) -> list[bool]:
    """Per reading sent, in order: flagged REPLAYED?"""
    return [QualityFlag.REPLAYED in r.flags for m in fake.sent for r in batch(m.payload).readings]


def test_the_fake_is_a_publisher(fake: InMemoryPublisher) -> None:
    """The in-memory publisher satisfies the agent's port."""
    assert isinstance(fake, Publisher)


def test_a_delivered_message_leaves_the_spool(agent: GatewayAgent, fake: InMemoryPublisher) -> None:
    """Sent while connected: not replayed; deleted only after the broker's delivered ack."""
    fake.connect()
    agent.spool.store([sample(0), sample(1)])
    agent.flush()
    assert [(m.topic, len(batch(m.payload).readings)) for m in fake.sent] == [
        ("pts/v1/gw-1/M1/readings", 2)
    ]
    assert replayed(fake) == [False, False]
    assert agent.spool.count() == 2  # in flight: not yet acknowledged
    fake.ack(fake.sent[0].mid)
    agent.flush()
    assert agent.spool.count() == 0
    assert agent.stats.acknowledged == 2


def test_an_undelivered_message_stays_and_is_sent_again(
    agent: GatewayAgent, fake: InMemoryPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'No matching subscribers': the readings stay in the spool and go out again after the
    pause; delivered the second time, they leave."""
    now = [100.0]
    monkeypatch.setattr("gateways.agent.time.monotonic", lambda: now[0])
    fake.connect()
    agent.spool.store([sample(0)])
    agent.flush()
    fake.ack(fake.sent[0].mid, delivered=False)
    agent.flush()
    assert (agent.spool.count(), len(fake.sent), agent.stats.undelivered) == (1, 1, 1)
    now[0] += 0.6  # past the first pause (0.5 s)
    agent.flush()
    assert len(fake.sent) == 2
    assert batch(fake.sent[1].payload).readings[0].energy_wh == 1_000
    fake.ack(fake.sent[1].mid)
    agent.flush()
    assert agent.spool.count() == 0


def test_readings_spooled_while_disconnected_are_replayed(
    agent: GatewayAgent, fake: InMemoryPublisher
) -> None:
    """Nothing goes out while disconnected; after connecting, those readings carry
    REPLAYED, a reading polled once connected does not."""
    agent.spool.store([sample(0)])
    agent._replay_upto = agent.spool.last_seq()  # what poll_once does while disconnected
    agent.flush()
    assert fake.sent == []
    fake.connect()
    agent.flush()
    fake.ack_all()
    agent.flush()
    agent.spool.store([sample(1)])
    agent.flush()
    assert replayed(fake) == [True, False]


def test_a_reconnect_replays_what_was_not_acknowledged(
    agent: GatewayAgent, fake: InMemoryPublisher
) -> None:
    """Sent, then the connection drops before the ack: after the reconnect the same
    readings go out again, flagged REPLAYED (the stream keeps one copy)."""
    fake.connect()
    agent.spool.store([sample(0), sample(1)])
    agent.flush()
    fake.disconnect()
    agent.flush()
    fake.connect()
    agent.flush()
    assert replayed(fake) == [False, False, True, True]
    fake.ack(fake.sent[-1].mid)
    agent.flush()
    assert agent.spool.count() == 0


def test_in_flight_messages_are_bounded(agent: GatewayAgent, fake: InMemoryPublisher) -> None:
    """max_inflight=2, max_batch=2: six readings go out as two messages until one is acked."""
    fake.connect()
    agent.spool.store([sample(i) for i in range(6)])
    agent.flush()
    assert len(fake.sent) == 2
    agent.flush()
    assert len(fake.sent) == 2
    fake.ack(fake.sent[0].mid)
    agent.flush()
    assert len(fake.sent) == 3
    assert [r.energy_wh for r in batch(fake.sent[2].payload).readings] == [1_004, 1_005]
