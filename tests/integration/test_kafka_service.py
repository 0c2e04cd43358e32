"""The local KRaft broker (deploy/local/kafka.sh) serves aiokafka: produce, consume, commit.

Runs against 127.0.0.1:$PTS_KAFKA_PORT (default 19092), or $PTS_KAFKA_BOOTSTRAP if set.
Each test uses its own topic and consumer group, so tests never see each other's messages.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import UnknownTopicOrPartitionError

pytestmark = pytest.mark.integration

BOOTSTRAP = os.environ.get(
    "PTS_KAFKA_BOOTSTRAP", f"127.0.0.1:{os.environ.get('PTS_KAFKA_PORT', '19092')}"
)


@pytest.fixture
def topic() -> str:
    """A fresh topic name; fails (never skips) when no broker listens."""
    host, port = BOOTSTRAP.split(",")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        pytest.fail(f"Kafka is not listening on {BOOTSTRAP}; start it: deploy/local/kafka.sh start")
    return f"test.kafka-service.{uuid.uuid4().hex[:12]}"


async def _create(topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, replication_factor=1)])
    finally:
        await admin.close()


async def test_produce_then_consume_one_message(topic: str) -> None:
    """A keyed message produced with acks=all comes back to a consumer, key and value intact."""
    await _create(topic, 1)
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b'{"wh": 123456}', key=b"meter-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(topic, message.partition))
    finally:
        await consumer.stop()

    assert (message.key, message.value) == (b"meter-1", b'{"wh": 123456}')
    assert (message.partition, message.offset) == (sent.partition, sent.offset)
    assert committed == message.offset + 1


async def test_a_topic_is_not_created_by_producing_to_it(topic: str) -> None:
    """auto.create.topics.enable=false: a produce to a missing topic fails and makes nothing."""
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", request_timeout_ms=3000)
    await producer.start()
    try:
        with pytest.raises(UnknownTopicOrPartitionError):
            await producer.send_and_wait(topic, b"0", key=b"meter-7")
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        assert topic not in await admin.list_topics()
    finally:
        await admin.close()


async def test_a_topic_made_with_four_partitions_keeps_a_key_in_one(topic: str) -> None:
    """A topic made with 4 partitions (as `pts kafka topics` does); one key, one partition."""
    await _create(topic, 4)
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    await producer.start()
    try:
        first = await producer.send_and_wait(topic, b"0", key=b"meter-7")
        partitions = await producer.partitions_for(topic)
        rest = [await producer.send_and_wait(topic, b"%d" % i, key=b"meter-7") for i in range(1, 5)]
    finally:
        await producer.stop()
    assert partitions == {0, 1, 2, 3}
    assert {r.partition for r in rest} == {first.partition}
    assert [r.offset for r in rest] == [1, 2, 3, 4]


async def test_admin_creates_and_deletes_a_topic(topic: str) -> None:
    """The admin API works (create with explicit partitions, list, delete)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        # the controller answers before every broker's metadata has the topic: wait for it
        deadline = asyncio.get_running_loop().time() + 60
        while topic not in (listed := await admin.list_topics()):
            assert asyncio.get_running_loop().time() < deadline, f"{topic} not in {listed}"
            await asyncio.sleep(0.1)
        await admin.delete_topics([topic])
    finally:
        await admin.close()
