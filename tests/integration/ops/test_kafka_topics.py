"""`pts kafka topics` makes the project's topics from the settings; the bridge and the stream
worker refuse to start, in one line naming the command, when their topics are missing."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

pytestmark = pytest.mark.integration

PTS = [sys.executable, "-c", "import sys; from pts.cli import main; sys.exit(main(sys.argv[1:]))"]


def pts(
    args: list[str], env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PTS, *args],
        env=dict(os.environ) | env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def topic_env(kafka_bootstrap: str, tmp_path: Path) -> tuple[dict[str, str], str, str]:
    suffix = uuid.uuid4().hex[:10]
    raw, dead = f"test.ops.raw.{suffix}", f"test.ops.dead.{suffix}"
    env = {
        "PTS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PTS_KAFKA_READINGS_TOPIC": raw,
        "PTS_KAFKA_DEAD_LETTER_TOPIC": dead,
        "PTS_LOCAL_DIR": str(tmp_path),
        "PTS_LOG_LEVEL": "warning",
    }
    return env, raw, dead


async def describe(kafka_bootstrap: str, topics: list[str]) -> dict[str, tuple[int, str]]:
    """(partitions, retention.ms) of each topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        meta = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(topics)}
        found = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t, {"retention.ms": None}) for t in topics]
        )
        retention: dict[str, str] = {}
        for response in found:
            for _code, _msg, _type, name, entries in response.resources:
                retention[name] = next(e[1] for e in entries if e[0] == "retention.ms")
        return {t: (meta[t], retention[t]) for t in topics}
    finally:
        await admin.delete_topics(topics)
        await admin.close()


async def test_topics_command_creates_from_settings_then_finds_them(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Partitions and retention come from PTS_KAFKA_*; a second run creates nothing."""
    env, raw, dead = topic_env(kafka_bootstrap, tmp_path)
    env |= {
        "PTS_KAFKA_READINGS_PARTITIONS": "3",
        "PTS_KAFKA_DEAD_LETTER_PARTITIONS": "2",
        "PTS_KAFKA_READINGS_RETENTION_HOURS": "48",
        "PTS_KAFKA_DEAD_LETTER_RETENTION_HOURS": "240",
    }
    check_before = pts(["kafka", "topics", "--check"], env)
    first = pts(["kafka", "topics"], env)
    second = pts(["kafka", "topics"], env | {"PTS_KAFKA_READINGS_PARTITIONS": "6"})
    check_after = pts(["kafka", "topics", "--check"], env)
    found = await describe(kafka_bootstrap, [raw, dead])

    assert check_before.returncode == 1
    assert f"Kafka topic(s) {raw}, {dead} do not exist" in check_before.stderr
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"created {raw} (3 partitions, replication 1, retention 48 h)",
        f"created {dead} (2 partitions, replication 1, retention 240 h)",
    ]
    assert second.stdout.splitlines() == [
        f"{raw} exists with 3 partitions (settings: 6; Kafka can add partitions, never remove "
        "them, and adding moves meters to other partitions)",
        f"{dead} exists (2 partitions)",
    ]
    assert check_after.returncode == 0
    assert found == {raw: (3, str(48 * 3_600_000)), dead: (2, str(240 * 3_600_000))}


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["bridge", "run", "--client-id", "ops-no-topic"], id="bridge"),
        pytest.param(["stream", "worker", "--app-id", "ops-no-topic"], id="worker"),
    ],
)
def test_process_refuses_to_start_without_its_topics(
    command: list[str], kafka_bootstrap: str, mqtt_broker: tuple[str, int], tmp_path: Path
) -> None:
    """Exit 1 within seconds with one line naming the missing topics and `pts kafka topics`
    (a worker used to sit idle for about 5 minutes, then log misleading fetch errors)."""
    env, raw, dead = topic_env(kafka_bootstrap, tmp_path)
    env |= {"PTS_MQTT_PASSWORD": "unused", "PTS_STREAM_METRICS_PORT": "0",
            "PTS_BRIDGE_METRICS_PORT": "0"}  # fmt: skip
    done = pts(command, env, timeout_s=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"Error: Kafka topic(s) {raw}, {dead} do not exist at {kafka_bootstrap} (PLAINTEXT); "
        "create them with `pts kafka topics` (the brokers do not create topics on first use)"
    )
