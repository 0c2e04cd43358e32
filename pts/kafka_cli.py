"""`pts kafka …`: the project's topics on the configured Kafka."""

from __future__ import annotations

import asyncio

import click

from pts.cli import get_settings


@click.group()
def kafka() -> None:
    """Kafka topics (the brokers never create them on first use)."""


@kafka.command()
@click.option("--check", is_flag=True, help="only check that they exist; create nothing")
@click.pass_context
def topics(ctx: click.Context, check: bool) -> None:
    """Create readings.raw and the dead-letter topic with the partitions, replication factor
    and retention from the settings (PTS_KAFKA_*); existing topics are left as they are."""
    from pts.kafka_config import KafkaConfigError, kafka_connection
    from pts.kafka_topics import TopicsError, ensure_topics, project_topics, require_topics

    settings = get_settings(ctx)
    specs = project_topics(settings)
    try:
        connection = kafka_connection(settings)
        if check:
            asyncio.run(require_topics(connection, [s.name for s in specs]))
            lines = [f"{s.name} exists" for s in specs]
        else:
            lines = asyncio.run(ensure_topics(connection, specs))
    except (KafkaConfigError, TopicsError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line in lines:
        click.echo(line)
