"""Helpers for the Faust tests: private topics, worker processes, producing, waiting."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import GroupCoordinatorNotAvailableError

from schemas.reading import Reading
from stream.status import committed_offsets, end_offsets
from tests.support import batch_bytes

ROOT = Path(__file__).resolve().parents[3]


async def create_topics(bootstrap: str, raw_partitions: int = 4) -> tuple[str, str]:
    """A private readings topic and dead-letter topic for one test."""
    suffix = uuid.uuid4().hex[:10]
    raw, dead = f"test.readings.raw.{suffix}", f"test.readings.dead-letter.{suffix}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(raw, num_partitions=raw_partitions, replication_factor=1),
                NewTopic(dead, num_partitions=1, replication_factor=1),
            ]
        )
    finally:
        await admin.close()
    return raw, dead


async def delete_topics(bootstrap: str, *topics: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(topics))
    finally:
        await admin.close()


class Worker:
    """One `pts stream worker` process on private topics."""

    def __init__(
        self,
        name: str,
        db_url: str,
        bootstrap: str,
        raw: str,
        dead: str,
        app_id: str,
        tmp: Path,
        settings: dict[str, str] | None = None,
    ) -> None:
        env = dict(
            os.environ,
            PTS_DATABASE_URL=db_url,
            PTS_KAFKA_BOOTSTRAP=bootstrap,
            PTS_KAFKA_READINGS_TOPIC=raw,
            PTS_KAFKA_DEAD_LETTER_TOPIC=dead,
            PTS_LOCAL_DIR=str(tmp / name),
            PTS_LOG_FORMAT="json",
        ) | (settings or {})
        self.log_path = tmp / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from pts.cli import main; main()", "stream", "worker",
             "--app-id", app_id, "--loglevel", "warning"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no final commit."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


async def produce(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes]]
) -> int:
    """Produce (key, value) messages with acks=all; return how many."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    count = 0
    try:
        futures = [await producer.send(topic, value=v, key=k) for k, v in messages]
        for fut in futures:
            await fut
            count += 1
    finally:
        await producer.stop()
    return count


async def produce_at(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes]]
) -> list[tuple[int, int]]:
    """Produce (key, value) messages with acks=all; return each one's (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k) for k, v in messages]
        done = [await fut for fut in futures]
    finally:
        await producer.stop()
    return [(meta.partition, meta.offset) for meta in done]


def keyed(batches: Iterable[list[Reading]]) -> list[tuple[bytes | None, bytes]]:
    """Messages keyed by meter_id (one meter per batch)."""
    return [(b[0].meter_id.encode(), batch_bytes(b)) for b in batches]


async def wait_for(
    check: Callable[[], bool], within_s: float, what: str, interval: float = 0.5
) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within_s}s waiting for {what}")


async def wait_all_committed(
    bootstrap: str, group: str, topic: str, within_s: float, workers: Iterable[Worker] = ()
) -> None:
    """Wait until the group committed every partition up to its end (processed and stored)."""
    ends = await end_offsets(bootstrap, topic)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for worker in workers:
            if worker.proc.poll() is not None:
                raise AssertionError(f"worker exited early:\n{worker.output()[-3000:]}")
        done = await committed_offsets(bootstrap, group, topic)
        if all(end == 0 or done.get(p, -1) >= end for p, end in ends.items()):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"group {group} did not commit {ends} within {within_s}s")


async def stream_status(db: str, bootstrap: str, topic: str, group: str) -> list[str]:
    """The lines `pts stream status --app-id GROUP` prints to an operator (it must succeed)."""
    from click.testing import CliRunner

    from pts.cli import cli

    status = await asyncio.to_thread(  # the command runs its own event loop
        CliRunner().invoke, cli, ["stream", "status", "--app-id", group],
        env={"PTS_DATABASE_URL": db, "PTS_KAFKA_BOOTSTRAP": bootstrap,
             "PTS_KAFKA_READINGS_TOPIC": topic},
    )  # fmt: skip
    assert status.exit_code == 0, status.output
    lines: list[str] = status.output.splitlines()
    return lines


async def consume_all(bootstrap: str, topic: str, expected: int, within_s: float) -> list[object]:
    """Read `expected` records from the start of a topic."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[object] = []
    try:
        deadline = time.monotonic() + within_s
        while len(out) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                out.extend(records)
    finally:
        await consumer.stop()
    return out


async def group_assignments(bootstrap: str, group: str) -> list[list[tuple[str, int]]]:
    """The (topic, partition)s assigned to each member of a consumer group (for messages)."""
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    members = described[0].groups[0][5] if described and described[0].groups else []
    out = []
    for member in members:
        raw = member[-1]
        assigned = ConsumerProtocolMemberAssignment.decode(raw) if raw else None
        out.append(
            sorted((t, p) for t, parts in assigned.assignment for p in parts) if assigned else []
        )
    return out


async def wait_for_members(bootstrap: str, group: str, members: int, within_s: float) -> None:
    """Wait until a consumer group is stable with `members` members."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                described = await admin.describe_consumer_groups([group])
            except GroupCoordinatorNotAvailableError:
                # a fresh broker creates __consumer_offsets on first use: ask again
                await asyncio.sleep(0.5)
                continue
            groups = described[0].groups if described else []
            if groups and groups[0][2] == "Stable" and len(groups[0][5]) == members:
                return
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    raise AssertionError(f"group {group} did not reach {members} stable members in {within_s}s")
