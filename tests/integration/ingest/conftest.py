"""Fixtures for the ingest integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from ingest.kafka_sink import KafkaTarget
from pts.kafka_topics import TopicSpec, ensure_topics
from tests.integration.ingest.support import unique


@pytest.fixture
async def kafka_target(kafka_bootstrap: str) -> AsyncIterator[KafkaTarget]:
    """Private readings and dead-letter topics for one test, made explicitly as `pts kafka
    topics` makes them (the broker creates none on first use), deleted afterwards."""
    target = KafkaTarget(kafka_bootstrap, unique("test.readings.raw"), unique("test.dead-letter"))
    specs = [
        TopicSpec(target.readings_topic, 4, 1, 1),
        TopicSpec(target.dead_letter_topic, 1, 1, 1),
    ]
    await ensure_topics(target.connection, specs)
    yield target
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in (target.readings_topic, target.dead_letter_topic) if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
    except KafkaError:  # cleanup only; a leftover private topic harms no other test
        pass
    finally:
        await admin.close()
