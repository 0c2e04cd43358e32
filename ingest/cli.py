"""`pts bridge …` and `pts das …`: wire settings to the bridge, the ACL generator and intake."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import click

from ingest.bridge import MqttSource
from ingest.envelope import DEFAULT_MAX_VALUE_BYTES
from ingest.errors import IngestError
from ingest.kafka_sink import KafkaTarget
from ingest.runner import run_bridge
from ingest.topics import OurTopics, ProviderTopics
from pts.cli import get_settings
from pts.settings import Settings


def _target(settings: Settings) -> KafkaTarget:
    return KafkaTarget(
        bootstrap=settings.kafka_bootstrap,
        readings_topic=settings.kafka_readings_topic,
        dead_letter_topic=settings.kafka_dead_letter_topic,
    )


def _run(source: MqttSource, settings: Settings, max_value_bytes: int) -> None:
    try:
        asyncio.run(run_bridge(source, _target(settings), max_value_bytes))
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def bridge() -> None:
    """MQTT → Kafka bridge (ack MQTT only after Kafka acked)."""


@bridge.command("run")
@click.option("--client-id", default=None, help="MQTT client id (stable: persistent session)")
@click.option("--share-group", default="bridge", show_default=True, help="'' for no $share")
@click.option("--topic-root", default="pts/v1", show_default=True)
@click.option("--capacity", default=1_000, show_default=True, help="max unacked messages")
@click.option("--max-value-bytes", default=DEFAULT_MAX_VALUE_BYTES, show_default=True)
@click.option(
    "--session-expiry",
    default=7 * 24 * 3600,
    show_default=True,
    help="seconds the broker keeps our session (and unacked messages) while the bridge is down",
)
@click.pass_context
def run(
    ctx: click.Context,
    client_id: str | None,
    share_group: str,
    topic_root: str,
    capacity: int,
    max_value_bytes: int,
    session_expiry: int,
) -> None:
    """Bridge our broker's readings topics (gateways and DAS providers) into Kafka."""
    settings = get_settings(ctx)
    source = MqttSource(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        client_id=client_id or f"pts-bridge-{socket.gethostname()}",
        scheme=OurTopics(topic_root),
        username=settings.mqtt_username,
        password=settings.mqtt_password,
        share_group=share_group or None,
        capacity=capacity,
        session_expiry_s=session_expiry,
    )
    _run(source, settings, max_value_bytes)


@click.group()
def das() -> None:
    """DAS providers: broker ACL, their own brokers, REST/CSV intake."""


@das.command("pull")
@click.option("--provider", "provider_id", required=True)
@click.option("--host", required=True)
@click.option("--port", default=1883, show_default=True)
@click.option("--username", default=None)
@click.option("--password", default=None)
@click.option(
    "--topic-template",
    default="pts/v1/das/{provider_id}/{meter_id}/readings",
    show_default=True,
    help="the provider's topics; {meter_id} is one whole level",
)
@click.option("--client-id", default=None)
@click.option("--share-group", default="", help="'' for no $share")
@click.option("--capacity", default=1_000, show_default=True)
@click.pass_context
def pull(
    ctx: click.Context,
    provider_id: str,
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    topic_template: str,
    client_id: str | None,
    share_group: str,
    capacity: int,
) -> None:
    """Subscribe to a provider's own broker with its credentials and forward into Kafka."""
    settings = get_settings(ctx)
    source = MqttSource(
        host=host,
        port=port,
        client_id=client_id or f"pts-das-{provider_id}-{socket.gethostname()}",
        scheme=ProviderTopics(provider_id, topic_template),
        username=username,
        password=password,
        share_group=share_group or None,
        capacity=capacity,
    )
    _run(source, settings, DEFAULT_MAX_VALUE_BYTES)


@das.command("acl")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--topic-root", default="pts/v1", show_default=True)
@click.pass_context
def acl(ctx: click.Context, out_dir: Path, topic_root: str) -> None:
    """Write passwd.extra and acl.extra for Mosquitto from the registry (then `reload`)."""
    import psycopg

    from ingest.das.acl import render_acl, render_passwd
    from ingest.das.credentials import load_broker_accounts

    settings = get_settings(ctx)
    with psycopg.connect(settings.database_url) as conn:
        accounts = load_broker_accounts(conn)
    out_dir.mkdir(parents=True, exist_ok=True)
    passwd = out_dir / "passwd.extra"
    passwd.touch(mode=0o600)
    passwd.write_text(render_passwd(accounts))
    (out_dir / "acl.extra").write_text(render_acl(accounts, topic_root))
    click.echo(f"wrote {passwd} and {out_dir / 'acl.extra'} for {len(accounts)} provider(s)")


@das.command("set-mqtt-password")
@click.argument("provider_id")
@click.pass_context
def set_mqtt_password(ctx: click.Context, provider_id: str) -> None:
    """Give a provider a new random broker password (printed once)."""
    import psycopg

    from ingest.das.credentials import set_mqtt_password as store

    settings = get_settings(ctx)
    with psycopg.connect(settings.database_url) as conn:
        password = store(conn, provider_id)
    click.echo(password)


@das.command("add-key")
@click.argument("provider_id")
@click.option("--label", default="")
@click.pass_context
def add_key(ctx: click.Context, provider_id: str, label: str) -> None:
    """Create an API key for a provider's REST/CSV reports (printed once; stored hashed)."""
    import psycopg

    from ingest.das.credentials import add_api_key

    settings = get_settings(ctx)
    with psycopg.connect(settings.database_url) as conn:
        key = add_api_key(conn, provider_id, label)
    click.echo(key)


@das.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8470, show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """HTTP intake of DAS reports: POST /v1/reports (JSON or CSV, header X-API-Key)."""
    from ingest.das.server import serve_forever

    settings = get_settings(ctx)
    try:
        asyncio.run(serve_forever(settings.database_url, _target(settings), host, port))
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
