"""`pts bridge …` and `pts das …`: wire settings to the bridge, the ACL generator and intake."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ingest.bridge import Bridge, MqttSource
from ingest.envelope import DEFAULT_MAX_VALUE_BYTES
from ingest.errors import IngestError
from ingest.kafka_sink import KafkaTarget
from ingest.mqtt_tls import MqttTls
from ingest.runner import run_bridge
from ingest.topics import OurTopics, ProviderTopics
from pts.settings import (
    Settings,
    get_settings,
    mqtt_admin_password_file,
    mqtt_password,
    read_secret,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ingest.broker_admin import AdminCredentials
    from ingest.broker_watch import BrokerWatch


def _secret(read: Callable[[], str]) -> str:
    try:
        return read()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _admin_credentials(settings: Settings) -> AdminCredentials:
    from ingest.broker_admin import AdminCredentials

    try:
        return AdminCredentials.from_file(
            settings.mqtt_host,
            settings.mqtt_port,
            settings.mqtt_admin_username,
            mqtt_admin_password_file(settings),
        )
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc


def _target(settings: Settings) -> KafkaTarget:
    """Where ingest produces, connected as the settings say (pts.kafka_config)."""
    from pts.kafka_config import KafkaConfigError, kafka_connection

    try:
        connection = kafka_connection(settings)
    except KafkaConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    return KafkaTarget(
        bootstrap=settings.kafka_bootstrap,
        readings_topic=settings.kafka_readings_topic,
        dead_letter_topic=settings.kafka_dead_letter_topic,
        security=connection,
    )


def _run(
    source: MqttSource,
    settings: Settings,
    max_value_bytes: int,
    metrics_port: int = 0,
    registry: Callable[[Bridge], CollectorRegistry] | None = None,
    watch: BrokerWatch | None = None,
) -> None:
    """Bridge until stopped, serving `registry(bridge)` (default: the bridge's metrics and
    the broker `watch`'s) on `metrics_port`."""

    def serve_metrics(bridge: Bridge) -> None:
        from ingest.metrics import bridge_registry
        from pts.metrics_server import serve

        made = registry(bridge) if registry else bridge_registry(bridge, watch)
        serve(made, metrics_port, settings.metrics_host)

    if watch is not None:
        watch.start()
    try:
        asyncio.run(run_bridge(source, _target(settings), max_value_bytes, serve_metrics))
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if watch is not None:
            watch.stop()


def _bridge_tls(settings: Settings) -> MqttTls | None:
    if settings.mqtt_tls_cafile is None:
        return None
    return MqttTls(settings.mqtt_tls_cafile, settings.mqtt_tls_certfile, settings.mqtt_tls_keyfile)


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
@click.option(
    "--watch-broker/--no-watch-broker",
    default=True,
    show_default=True,
    help="export the broker's held messages and away sessions (pts_broker_*) from $SYS",
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
    watch_broker: bool,
) -> None:
    """Bridge our broker's readings topics (gateways and DAS providers) into Kafka."""
    from ingest.broker_watch import BrokerWatch

    settings = get_settings(ctx)
    source = MqttSource(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        client_id=client_id or f"pts-bridge-{socket.gethostname()}",
        scheme=OurTopics(topic_root),
        username=settings.mqtt_username,
        password=_secret(lambda: mqtt_password(settings)),
        share_group=share_group or None,
        capacity=capacity,
        session_expiry_s=session_expiry,
        tls=_bridge_tls(settings),
    )
    watch = None
    if watch_broker and settings.bridge_metrics_port:
        watch = BrokerWatch(source.host, source.port, f"{source.client_id}-watch",
                            source.username, source.password, source.tls)  # fmt: skip
    _run(source, settings, max_value_bytes, settings.bridge_metrics_port, watch=watch)


@bridge.command("retire")
@click.argument("client_id")
@click.option("--share-group", default="bridge", show_default=True, help="as the bridge ran")
@click.option("--topic-root", default="pts/v1", show_default=True, help="as the bridge ran")
@click.option("--max-value-bytes", default=DEFAULT_MAX_VALUE_BYTES, show_default=True)
@click.pass_context
def retire(
    ctx: click.Context, client_id: str, share_group: str, topic_root: str, max_value_bytes: int
) -> None:
    """Remove a stopped bridge from the shared subscription without losing its share: take
    over its session, unsubscribe, forward to Kafka what the broker queued for it, then end
    the session (docs/operations.md, "Scale-out"). Stop the bridge's process first."""
    from ingest.bridge_retire import retire_bridge

    settings = get_settings(ctx)
    source = MqttSource(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        client_id=client_id,
        scheme=OurTopics(topic_root),
        username=settings.mqtt_username,
        password=_secret(lambda: mqtt_password(settings)),
        share_group=share_group or None,
        tls=_bridge_tls(settings),
    )
    try:
        done = asyncio.run(retire_bridge(source, _target(settings), max_value_bytes))
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"forwarded {done.messages} messages ({done.readings} readings) queued for "
               f"{client_id}")  # fmt: skip
    if not done.session_ended:
        raise click.ClickException(
            f"a message reached {client_id} while it was closing; its session is kept so "
            "nothing is lost: run this command again"
        )
    click.echo(f"ended the session of {client_id}: it is out of the share group")


@bridge.command("forget-session")
@click.argument("client_id")
@click.pass_context
def forget_session(ctx: click.Context, client_id: str) -> None:
    """End a retired bridge's persistent session: the broker drops its subscriptions and
    every message it queued for it (docs/operations.md, "Retired bridge client ids"). Never
    give the id of a bridge that runs: it would be disconnected and start afresh."""
    from ingest.broker_sessions import forget_session as forget

    settings = get_settings(ctx)
    try:
        done = forget(settings.mqtt_host, settings.mqtt_port, client_id, settings.mqtt_username,
                      _secret(lambda: mqtt_password(settings)), _bridge_tls(settings))  # fmt: skip
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    if done.session_present:
        click.echo(f"ended the session of {client_id} (its queued messages are dropped)")
    else:
        click.echo(f"the broker held no session for {client_id}; nothing to do")


@click.group()
def das() -> None:
    """DAS providers: broker ACL, their own brokers, REST/CSV intake."""


@das.command("pull")
@click.option("--provider", "provider_id", required=True)
@click.option("--host", required=True)
@click.option("--port", default=1883, show_default=True)
@click.option("--username", default=None)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="file holding the password for the provider's broker (never on the command line)",
)
@click.option(
    "--topic-template",
    default="pts/v1/das/{provider_id}/{meter_id}/readings",
    show_default=True,
    help="the provider's topics; {meter_id} is one whole level",
)
@click.option("--client-id", default=None)
@click.option("--share-group", default="", help="'' for no $share")
@click.option("--capacity", default=1_000, show_default=True)
@click.option(
    "--cafile",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="speak TLS (MQTTS), trusting the provider's broker only if this CA signed it",
)
@click.option(
    "--certfile",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="client certificate, if the provider's broker asks for one (with --keyfile)",
)
@click.option(
    "--keyfile", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="/metrics port (default PTS_DAS_PULL_METRICS_PORT; one per pull on a host; 0: off)",
)
@click.option(
    "--session-expiry",
    default=7 * 24 * 3600,
    show_default=True,
    help="seconds the provider's broker keeps our session while the pull is down",
)
@click.pass_context
def pull(
    ctx: click.Context,
    provider_id: str,
    host: str,
    port: int,
    username: str | None,
    password_file: Path | None,
    topic_template: str,
    client_id: str | None,
    share_group: str,
    capacity: int,
    cafile: Path | None,
    certfile: Path | None,
    keyfile: Path | None,
    metrics_port: int | None,
    session_expiry: int,
) -> None:
    """Subscribe to a provider's own broker with its credentials and forward into Kafka."""
    from ingest.metrics import das_pull_registry

    if cafile is None and (certfile or keyfile):
        raise click.UsageError("--certfile/--keyfile need --cafile (they are TLS settings)")
    settings = get_settings(ctx)
    source = MqttSource(
        host=host,
        port=port,
        client_id=client_id or f"pts-das-{provider_id}-{socket.gethostname()}",
        scheme=ProviderTopics(provider_id, topic_template),
        username=username,
        password=None
        if password_file is None
        else _secret(lambda: read_secret(password_file, "the provider's broker password")),
        share_group=share_group or None,
        capacity=capacity,
        tls=None if cafile is None else MqttTls(cafile, certfile, keyfile),
        session_expiry_s=session_expiry,
    )
    port = settings.das_pull_metrics_port if metrics_port is None else metrics_port
    _run(source, settings, settings.ingest_max_record_bytes, port,
         lambda bridge: das_pull_registry(bridge, provider_id))  # fmt: skip


@das.command("acl")
@click.option("--topic-root", default="pts/v1", show_default=True)
@click.pass_context
def acl(ctx: click.Context, topic_root: str) -> None:
    """Apply every approved provider's broker role (its meters' topics) to our broker."""
    import psycopg

    from ingest.broker_admin import BrokerAdmin
    from ingest.das.credentials import sync_broker

    settings = get_settings(ctx)
    try:
        with (
            psycopg.connect(settings.database_url) as conn,
            BrokerAdmin.connect(_admin_credentials(settings)) as admin,
        ):
            done = sync_broker(conn, admin, topic_root)
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in done:
        click.echo(line)
    click.echo(f"applied to the broker for {sum('may publish' in d for d in done)} provider(s)")


@das.command("set-mqtt-password")
@click.argument("provider_id")
@click.option("--topic-root", default="pts/v1", show_default=True)
@click.pass_context
def set_mqtt_password(ctx: click.Context, provider_id: str, topic_root: str) -> None:
    """Give a provider a new random broker password, set on the broker at once and printed
    once (the broker keeps only its salted hash)."""
    import psycopg

    from ingest.broker_admin import BrokerAdmin
    from ingest.das.credentials import set_mqtt_password as store

    settings = get_settings(ctx)
    try:
        with (
            psycopg.connect(settings.database_url) as conn,
            BrokerAdmin.connect(_admin_credentials(settings)) as admin,
        ):
            password = store(conn, admin, provider_id, topic_root)
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(password)


@click.command("add-user")
@click.argument("gateway_id")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="file holding the gateway's password (default: a new random one, printed once)",
)
@click.option("--topic-root", default="pts/v1", show_default=True)
@click.pass_context
def gateway_add_user(
    ctx: click.Context, gateway_id: str, password_file: Path | None, topic_root: str
) -> None:
    """Give a gateway its broker account: it may publish only below <root>/GATEWAY_ID/ and
    read only its own control topics. Run again to change its password."""
    import secrets

    from ingest.broker_admin import BrokerAdmin
    from ingest.broker_roles import check_password, gateway_role

    settings = get_settings(ctx)
    generated = password_file is None
    password = (
        secrets.token_urlsafe(24)
        if password_file is None
        else _secret(lambda: read_secret(password_file, "the gateway's password"))
    )
    try:
        check_password(password, f"gateway {gateway_id}")
        role = gateway_role(gateway_id, topic_root)
        with BrokerAdmin.connect(_admin_credentials(settings)) as admin:
            admin.ensure_role(role)
            created = admin.ensure_client(gateway_id, password, [role.name])
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{'created' if created else 'updated'} broker account {gateway_id}: publishes "
        f"{topic_root}/{gateway_id}/#"
    )
    if generated:
        click.echo(f"password (shown once; put it in the gateway's mqtt.password): {password}")


@click.command("remove-user")
@click.argument("gateway_id")
@click.pass_context
def gateway_remove_user(ctx: click.Context, gateway_id: str) -> None:
    """Remove a gateway's broker account (its connection is closed at once)."""
    from ingest.broker_admin import BrokerAdmin

    settings = get_settings(ctx)
    try:
        with BrokerAdmin.connect(_admin_credentials(settings)) as admin:
            removed = admin.delete_client(gateway_id)
            admin.delete_role(f"gateway:{gateway_id}")
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    if not removed:
        raise click.ClickException(f"no broker account {gateway_id!r}")
    click.echo(f"removed broker account {gateway_id}")


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
