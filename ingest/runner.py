"""Run a bridge until SIGINT/SIGTERM: the process edge shared by `pts bridge run` and
`pts das pull`."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import structlog

from ingest.bridge import Bridge, BridgeStats, MqttSource
from ingest.errors import ConfigError
from ingest.kafka_sink import KafkaSink, KafkaTarget, RecordSink
from pts.kafka_topics import TopicsError, require_topics

log = structlog.get_logger(__name__)


async def run_bridge(
    source: MqttSource,
    target: KafkaTarget,
    max_value_bytes: int,
    on_bridge: Callable[[Bridge], None] | None = None,
    make_bridge: Callable[[MqttSource, RecordSink, int], Bridge] = Bridge,
) -> BridgeStats:
    """Start the producer, bridge until a stop signal, stop the producer; `on_bridge` sees
    the bridge before it runs (the command serves its metrics); `make_bridge` makes it
    (ingest.bridge_retire's retiring bridge stops by itself)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await require_topics(target.connection, target.topics)
    except TopicsError as exc:
        raise ConfigError(str(exc)) from exc
    sink = KafkaSink(target)
    await sink.start()
    try:
        bridge = make_bridge(source, sink, max_value_bytes)
        if on_bridge is not None:
            on_bridge(bridge)
        log.info(
            "bridge_started",
            mqtt=f"{source.host}:{source.port}",
            client_id=source.client_id,
            kafka=target.connection.describe(),
            topic=target.readings_topic,
        )
        return await bridge.run(stop)
    finally:
        await sink.stop()
