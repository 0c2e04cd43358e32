"""The project's Kafka topics: created by `pts kafka topics`, checked by every process at start.

Brokers run with `auto.create.topics.enable=false`: a topic made by a stray producer would get
the broker's defaults (partitions, retention) rather than ours, and a stream worker started
before its topic existed used to sit idle until its metadata refresh (about 5 minutes) and
then log misleading fetch errors. So the topics are made once, explicitly, from the settings,
and the bridge and the worker refuse to start without them, saying what to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from pts.kafka_config import KafkaConnection
from pts.settings import Settings

TOPIC_ALREADY_EXISTS = 36  # Kafka error code


class TopicsError(Exception):
    """A topic is missing or could not be made; the message says what to run."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic as the settings want it."""

    name: str
    partitions: int
    replication_factor: int
    retention_hours: int

    def configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_hours * 3_600_000)}

    def summary(self) -> str:
        return (
            f"{_partitions_text(self.partitions)}, replication {self.replication_factor}, "
            f"retention {self.retention_hours} h"
        )


def _partitions_text(n: int) -> str:
    return f"{n} partition" if n == 1 else f"{n} partitions"


def project_topics(settings: Settings) -> list[TopicSpec]:
    """readings.raw and the dead-letter topic with the partitions/replication/retention set."""
    return [
        TopicSpec(
            settings.kafka_readings_topic,
            settings.kafka_readings_partitions,
            settings.kafka_replication_factor,
            settings.kafka_readings_retention_hours,
        ),
        TopicSpec(
            settings.kafka_dead_letter_topic,
            settings.kafka_dead_letter_partitions,
            settings.kafka_replication_factor,
            settings.kafka_dead_letter_retention_hours,
        ),
    ]


async def _partitions(admin: AIOKafkaAdminClient, names: Iterable[str]) -> dict[str, int]:
    """Partition count of each named topic that exists (and that we may describe). Only
    topics listed as existing are described: a metadata request naming a topic asks a broker
    that still auto-creates topics to create it."""
    present = set(await admin.list_topics()).intersection(names)
    if not present:
        return {}
    found: dict[str, int] = {}
    for topic in await admin.describe_topics(sorted(present)):
        if topic["error_code"] == 0:
            found[topic["topic"]] = len(topic["partitions"])
    return found


async def ensure_topics(connection: KafkaConnection, specs: Sequence[TopicSpec]) -> list[str]:
    """Create the topics that are missing; one line per topic saying what was done or found."""
    admin = AIOKafkaAdminClient(**connection.client_kwargs())
    try:
        await admin.start()
        existing = await _partitions(admin, (s.name for s in specs))
        missing = [s for s in specs if s.name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=s.configs())
                    for s in missing
                ]
            )
            for name, code, *rest in response.topic_errors:
                if code not in (0, TOPIC_ALREADY_EXISTS):
                    message = rest[0] if rest else ""
                    raise TopicsError(
                        f"Kafka at {connection.describe()} refused to create {name} "
                        f"(error {code}: {message})"
                    )
    except KafkaError as exc:
        raise TopicsError(f"Kafka at {connection.describe()} is not usable: {exc!r}") from exc
    finally:
        await admin.close()
    lines = []
    for spec in specs:
        if spec.name not in existing:
            lines.append(f"created {spec.name} ({spec.summary()})")
        elif existing[spec.name] != spec.partitions:
            lines.append(
                f"{spec.name} exists with {existing[spec.name]} partitions (settings: "
                f"{spec.partitions}; Kafka can add partitions, never remove them, and adding "
                "moves meters to other partitions)"
            )
        else:
            lines.append(f"{spec.name} exists ({_partitions_text(existing[spec.name])})")
    return lines


async def require_topics(connection: KafkaConnection, names: Sequence[str]) -> None:
    """Raise TopicsError naming the missing topics and the command that makes them."""
    admin = AIOKafkaAdminClient(**connection.client_kwargs())
    try:
        await admin.start()
        existing = await _partitions(admin, names)
    except KafkaError as exc:
        raise TopicsError(f"Kafka at {connection.describe()} is not usable: {exc!r}") from exc
    finally:
        await admin.close()
    missing = [n for n in names if n not in existing]
    if missing:
        raise TopicsError(
            f"Kafka topic(s) {', '.join(missing)} do not exist at {connection.describe()}; "
            "create them with `pts kafka topics` (the brokers do not create topics on first "
            "use)"
        )
