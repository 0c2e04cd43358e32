"""`pts stream …`: run the stream engines."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import click

from pts.cli import get_settings
from pts.settings import Settings

if TYPE_CHECKING:
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
    from stream.faust_app import FaustEngine, run_worker

    settings = get_settings(ctx)
    engine = FaustEngine(
        app_id=app_id,
        bootstrap=settings.kafka_bootstrap,
        database_url=settings.database_url,
        readings_topic=settings.kafka_readings_topic,
        dead_letter_topic=settings.kafka_dead_letter_topic,
        datadir=settings.local_dir / "faust" / app_id,
        max_batch=settings.stream_max_batch,
        within_s=settings.stream_batch_window_s,
        concurrency=settings.stream_concurrency,
        limits=stream_limits(settings),
    )
    run_worker(engine, loglevel)


def stream_limits(settings: Settings) -> Limits:
    """The stream's validation limits from the settings (PTS_STREAM_*)."""
    from stream.stages import Limits

    return Limits(
        future=timedelta(seconds=settings.stream_future_tolerance_s),
        clock_skew=timedelta(seconds=settings.stream_clock_skew_s),
        power_tolerance=settings.stream_power_tolerance,
    )
