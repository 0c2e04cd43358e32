"""`pts kafka accounts` converges on the real Kafka: the components' ACLs the settings no longer
want are removed, the wanted ones written, and no other principal's rule is touched."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import TopicAuthorizationFailedError

from pts.kafka_accounts import (
    MANAGED,
    Acl,
    Operation,
    Resource,
    _CreateAcls,
    component_acls,
    delete_acl,
    describe_acls,
)
from tests.integration.ops.test_kafka_sasl import as_principal, pts
from tests.integration.stream.kafka_support import create_topics, delete_topics

pytestmark = pytest.mark.integration


def topics_env(bootstrap: str, topics: tuple[str, str] | None = None) -> dict[str, str]:
    """The settings of `pts kafka accounts` for these topics (the defaults without)."""
    env = {"PTS_KAFKA_BOOTSTRAP": bootstrap}
    if topics is not None:
        env |= {"PTS_KAFKA_READINGS_TOPIC": topics[0], "PTS_KAFKA_DEAD_LETTER_TOPIC": topics[1]}
    return env


async def held(bootstrap: str, principals: tuple[str, ...]) -> set[Acl]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {a for p in principals for a in await describe_acls(admin, p)}
    finally:
        await admin.close()


async def bridge_may_write(topic: str, within_s: float = 60) -> bool:
    """Whether pts-bridge, over SASL_SSL, may write `topic`, once the brokers' authorizer
    agrees with itself for a few seconds (ACL changes reach it through the metadata log)."""
    deadline, answers = time.monotonic() + within_s, []
    while True:
        producer = AIOKafkaProducer(**as_principal("pts-bridge").client_kwargs(), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"probe", key=b"M1")
            answers.append(True)
        except TopicAuthorizationFailedError:
            answers.append(False)
        finally:
            await producer.stop()
        if len(answers) >= 3 and len(set(answers[-3:])) == 1:
            return answers[-1]
        assert time.monotonic() < deadline, f"the authorizer kept changing its mind: {answers}"
        await asyncio.sleep(0.5)


async def test_renamed_topics_lose_their_acls_and_other_principals_keep_theirs(
    kafka_bootstrap: str,
) -> None:
    """The topics in the settings change from OLD to NEW: `pts kafka accounts` removes the
    components' rules on OLD (pts-bridge can no longer write there) and writes them on NEW; a
    rule of another principal on OLD stays; a second run removes nothing."""
    old = await create_topics(kafka_bootstrap)
    new = await create_topics(kafka_bootstrap)
    other = Acl("pts-test-someone-else", Resource.TOPIC, old[0], Operation.READ)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        first = pts(["kafka", "accounts"], topics_env(kafka_bootstrap, old))
        assert first.returncode == 0, first.stderr
        await admin._send_request(_CreateAcls([other]))
        assert await bridge_may_write(old[0])

        second = pts(["kafka", "accounts"], topics_env(kafka_bootstrap, new))
        assert second.returncode == 0, second.stderr
        removed = sorted(line for line in second.stdout.splitlines() if line.startswith("removed"))
        gone = set(component_acls(*old)) - set(component_acls(*new))
        assert removed == sorted(
            f"removed {a.describe()} (not in the settings any more)" for a in gone
        )
        assert {a.name for a in gone} == set(old)  # the rules on the two old topics, no other
        now = await held(kafka_bootstrap, MANAGED)
        assert not now & gone
        assert set(component_acls(*new)) <= now
        assert await held(kafka_bootstrap, (other.principal,)) == {other}
        assert not await bridge_may_write(old[0])
        assert await bridge_may_write(new[0])

        third = pts(["kafka", "accounts"], topics_env(kafka_bootstrap, new))
        assert third.returncode == 0, third.stderr
        assert [line for line in third.stdout.splitlines() if line.startswith("removed")] == []
    finally:
        await delete_acl(admin, other)
        await admin.close()
        await delete_topics(kafka_bootstrap, *old, *new)
        restored = pts(["kafka", "accounts"], topics_env(kafka_bootstrap))  # the default topics
        assert restored.returncode == 0, restored.stderr
