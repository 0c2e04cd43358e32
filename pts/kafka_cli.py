"""`pts kafka …`: the project's topics on the configured Kafka."""

from __future__ import annotations

import asyncio
from pathlib import Path

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


@kafka.command()
@click.option(
    "--secrets-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="folder with one password file per principal (pts-admin, pts-bridge, pts-das-intake, "
    "pts-worker); default <local_dir>/kafka/secrets, written by deploy/local/kafka.sh",
)
@click.pass_context
def accounts(ctx: click.Context, secrets_dir: Path | None) -> None:
    """Set the components' SCRAM credentials from their password files and write their ACLs
    for the topics in the settings; remove their ACLs the settings no longer want (a renamed
    topic), never another principal's (connect as a super user: pts-admin)."""
    from pts.kafka_accounts import PRINCIPALS, KafkaAccountsError, apply_accounts, component_acls
    from pts.kafka_config import kafka_connection
    from pts.settings import read_secret

    settings = get_settings(ctx)
    folder = secrets_dir or settings.local_dir / "kafka" / "secrets"
    try:
        passwords = {
            name: read_secret(folder / name, f"the password of {name}")
            for name in PRINCIPALS
            if (folder / name).exists()
        }
        acls = component_acls(settings.kafka_readings_topic, settings.kafka_dead_letter_topic)
        lines = asyncio.run(apply_accounts(kafka_connection(settings), passwords, acls))
    except (ValueError, KafkaAccountsError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line in lines:
        click.echo(line)
