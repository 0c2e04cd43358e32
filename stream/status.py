"""How far behind the stream workers are, and what waits in the dead letters.

`pts stream status` prints, per partition of the readings topic, the offset the worker group
committed (everything below it is stored), the topic's end and the difference (lag, in
messages), then the dead letters not re-driven yet by reason (and by origin when the bridge
or the DAS intake refused them). Lag that grows while the gateways publish at a steady rate
means the workers fall behind: add workers (up to the topic's partitions) or look at the
database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from pts.kafka_config import KafkaConnection


def _connection(kafka: str | KafkaConnection) -> KafkaConnection:
    """A connection from the settings (pts.kafka_config), or plain bootstrap servers."""
    return kafka if isinstance(kafka, KafkaConnection) else KafkaConnection(kafka)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    partition: int
    committed: int | None  # None: the group never committed this partition
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


async def end_offsets(kafka: str | KafkaConnection, topic: str) -> dict[int, int]:
    """The next offset to be written, per partition of `topic`."""
    consumer = AIOKafkaConsumer(**_connection(kafka).client_kwargs())
    try:  # start inside: a refused start still closes what it opened
        await consumer.start()
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()  # a topic created a moment ago
            partitions = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def committed_offsets(kafka: str | KafkaConnection, group: str, topic: str) -> dict[int, int]:
    """The offsets `group` committed on `topic` (empty while nothing is committed)."""
    admin = AIOKafkaAdminClient(**_connection(kafka).client_kwargs())
    try:
        await admin.start()
        found = await admin.list_consumer_group_offsets(group)
    except GroupCoordinatorNotAvailableError:
        return {}  # a fresh broker is still creating __consumer_offsets: nothing committed
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in found.items() if tp.topic == topic}


async def consumer_lag(kafka: str | KafkaConnection, group: str, topic: str) -> list[PartitionLag]:
    """Committed offset, end and lag of each partition, in partition order."""
    ends = await end_offsets(kafka, topic)
    done = await committed_offsets(kafka, group, topic)
    return [PartitionLag(p, done.get(p), ends[p]) for p in sorted(ends)]


async def dead_letters_waiting(aconn: psycopg.AsyncConnection[Any]) -> dict[str, int]:
    """Dead letters not re-driven yet, counted by reason code; those the bridge or the DAS
    intake refused (migration 008 `origin`) are counted apart, as `code (origin)`."""
    cur = await aconn.execute(
        "SELECT reason_code, origin, count(*) FROM dead_letters WHERE redriven_at IS NULL "
        "GROUP BY reason_code, origin ORDER BY reason_code, origin"
    )
    return {
        str(code) if origin == "stream" else f"{code} ({origin})": int(n)
        for code, origin, n in await cur.fetchall()
    }


async def sequence_anomalies(aconn: psycopg.AsyncConnection[Any]) -> int:
    """Readings recorded with a sequence number that did not increase (stream.sequence)."""
    cur = await aconn.execute("SELECT count(*) FROM reading_sequence_anomalies")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


def render(
    topic: str,
    group: str,
    lags: list[PartitionLag],
    waiting: dict[str, int],
    anomalies: int = 0,
) -> str:
    """The status as the command prints it (the sequence line only when there are some)."""
    lines = [f"{topic}, consumer group {group}:", "  partition  committed        end        lag"]
    for p in lags:
        committed = "-" if p.committed is None else str(p.committed)
        lines.append(f"  {p.partition:9d}  {committed:>9s}  {p.end:9d}  {p.lag:9d}")
    lines.append(f"  total lag {sum(p.lag for p in lags)} messages")
    if waiting:
        lines.append("dead letters waiting: " + ", ".join(f"{n} {r}" for r, n in waiting.items()))
    else:
        lines.append("dead letters waiting: none")
    if anomalies:
        lines.append(f"sequence anomalies: {anomalies} readings (table reading_sequence_anomalies)")
    return "\n".join(lines)
