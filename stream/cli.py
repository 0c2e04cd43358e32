"""`pts stream …`: run the stream engines."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

import click

from pts.settings import Settings, get_settings, service_database_url
from stream.errors import REDRIVABLE

if TYPE_CHECKING:
    from stream.persist import WorkLimits
    from stream.stages import Limits


@click.group()
def stream() -> None:
    """Validate readings, derive energy and keep the rollups (Faust on Kafka)."""


@stream.command()
@click.option("--app-id", default="pts-stream", show_default=True, help="Kafka consumer group")
@click.option("--loglevel", default="info", show_default=True)
@click.pass_context
def worker(ctx: click.Context, app_id: str, loglevel: str) -> None:
    """Consume readings.raw, store readings and rollups, dead-letter rejects."""
    import asyncio

    from pts.kafka_config import KafkaConfigError, kafka_connection
    from pts.kafka_topics import TopicsError, require_topics
    from stream.faust_app import FaustEngine, run_worker

    settings = get_settings(ctx)
    topics = [settings.kafka_readings_topic, settings.kafka_dead_letter_topic]
    try:
        connection = kafka_connection(settings)
        asyncio.run(require_topics(connection, topics))
    except (KafkaConfigError, TopicsError) as exc:
        raise click.ClickException(str(exc)) from exc
    engine = FaustEngine(
        app_id=app_id,
        connection=connection,
        bootstrap=settings.kafka_bootstrap,
        database_url=service_database_url(settings, "stream"),
        readings_topic=settings.kafka_readings_topic,
        dead_letter_topic=settings.kafka_dead_letter_topic,
        datadir=settings.local_dir / "faust" / app_id,
        max_batch=settings.stream_max_batch,
        within_s=settings.stream_batch_window_s,
        concurrency=settings.stream_concurrency,
        limits=stream_limits(settings),
        work=work_limits(settings),
        stall_exit_s=settings.stream_stall_exit_s,
    )
    from pts.metrics_server import serve

    serve(engine.metrics.registry, settings.stream_metrics_port, settings.metrics_host)
    run_worker(engine, loglevel)


def stream_limits(settings: Settings) -> Limits:
    """The stream's validation limits from the settings (PTS_STREAM_*)."""
    from stream.stages import Limits

    return Limits(
        future=timedelta(seconds=settings.stream_future_tolerance_s),
        clock_skew=timedelta(seconds=settings.stream_clock_skew_s),
        power_tolerance=settings.stream_power_tolerance,
        earliest=datetime.combine(settings.stream_earliest_reading, time(0), tzinfo=UTC),
        max_message_bytes=settings.stream_max_message_bytes,
    )


def work_limits(settings: Settings) -> WorkLimits:
    """The stream's time and attempt bounds on database work from the settings."""
    from stream.persist import WorkLimits

    return WorkLimits(
        statement_timeout_s=settings.stream_statement_timeout_s,
        lock_timeout_s=settings.stream_lock_timeout_s,
        max_attempts=settings.stream_max_attempts,
    )


@stream.command()
@click.option(
    "--reason",
    "reason_code",
    default="unknown_meter",
    show_default=True,
    type=click.Choice(sorted(code.value for code in REDRIVABLE)),
    help="which dead letters to send through again",
)
@click.option("--meter", "meter_id", default=None, help="only this meter's")
@click.option("--limit", default=100_000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--topic-root",
    default="pts/v1",
    show_default=True,
    help="topic_invalid: the bridge's topic root (the owner is the level after it)",
)
@click.pass_context
def redrive(
    ctx: click.Context, reason_code: str, meter_id: str | None, limit: int, topic_root: str
) -> None:
    """Send refused readings through the stream again once their cause is fixed."""
    import asyncio

    from stream.errors import ReasonCode
    from stream.redrive import redrive as run_redrive

    settings = get_settings(ctx)
    report = asyncio.run(
        run_redrive(
            service_database_url(settings, "stream"),
            ReasonCode(reason_code),
            datetime.now(UTC),
            meter_id,
            limit,
            limits=stream_limits(settings),
            work=work_limits(settings),
            topic_root=topic_root,
        )
    )
    click.echo(report.summary())


@stream.command()
@click.option("--app-id", default="pts-stream", show_default=True, help="Kafka consumer group")
@click.pass_context
def status(ctx: click.Context, app_id: str) -> None:
    """Consumer lag per partition and the dead letters waiting."""
    import asyncio

    import psycopg

    from pts.kafka_config import kafka_connection
    from stream.status import consumer_lag, dead_letters_waiting, render, sequence_anomalies

    settings = get_settings(ctx)

    async def gather() -> str:
        topic = settings.kafka_readings_topic
        lags = await consumer_lag(kafka_connection(settings), app_id, topic)
        async with await psycopg.AsyncConnection.connect(
            service_database_url(settings, "stream")
        ) as aconn:
            waiting = await dead_letters_waiting(aconn)
            anomalies = await sequence_anomalies(aconn)
        return render(topic, app_id, lags, waiting, anomalies)

    click.echo(asyncio.run(gather()))
