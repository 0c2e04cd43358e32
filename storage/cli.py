"""`pts db …`: migrate, say which mode is active, service and analyst logins (`pts db load`,
which also keeps the rollups, is wired in pts/commands/db_load.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
import psycopg

from pts.settings import Settings, get_settings
from storage.errors import StorageError
from storage.migrate import database_info, migrate
from storage.receipt_retention import prune_batch_receipts


@click.group()
def db() -> None:
    """The PTS database (PostgreSQL, with TimescaleDB when available)."""


@db.command("migrate")
@click.option(
    "--mode",
    type=click.Choice(["auto", "plain", "timescale"]),
    default=None,
    help="storage mode of a new database (default PTS_STORAGE_MODE, else auto)",
)
@click.pass_context
def migrate_cmd(ctx: click.Context, mode: str | None) -> None:
    """Apply pending migrations (idempotent)."""
    settings = get_settings(ctx)
    try:
        chosen = migrate(settings.database_url, mode or settings.storage_mode)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"database migrated; storage mode: {chosen.value}")


@db.command("info")
@click.pass_context
def info_cmd(ctx: click.Context) -> None:
    """Say which storage mode is active and which migrations are applied."""
    info = database_info(get_settings(ctx).database_url)
    mode = info.mode.value if info.mode else "not migrated"
    detail = {
        "timescale": "hypertables, continuous aggregates, compression",
        "plain": "plain PostgreSQL: monthly range partitions, maintained rollup tables",
        "not migrated": "run `pts db migrate`",
    }[mode]
    click.echo(f"storage mode: {mode} ({detail})")
    click.echo(f"server: PostgreSQL {info.server_version}")
    click.echo(f"timescaledb extension available: {'yes' if info.timescale_available else 'no'}")
    click.echo(f"migrations applied: {', '.join(info.applied) or 'none'}")
    click.echo(f"migrations pending: {', '.join(info.pending) or 'none'}")


@db.command("prune-receipts")
@click.option("--dry-run", is_flag=True, help="count what would go, remove nothing")
@click.option(
    "--now",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z"]),
    default=None,
    help="the instant to prune as of (default: now; for tests and replays)",
)
@click.pass_context
def prune_receipts_cmd(ctx: click.Context, dry_run: bool, now: datetime | None) -> None:
    """Remove batch receipts whose months are settled (storage/receipt_retention.py): every
    month they cover was closed, and not held, PTS_BATCH_RECEIPT_RETENTION_DAYS ago."""
    settings = get_settings(ctx)
    at = now.astimezone(UTC) if now else datetime.now(UTC)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        pruned = prune_batch_receipts(
            conn, at, settings.batch_receipt_retention_days, dry_run=dry_run
        )
    verb = "would be removed" if dry_run else "removed"
    click.echo(
        f"{pruned.removed} batch receipts {verb} (months settled before "
        f"{pruned.cutoff.isoformat()}), {pruned.kept} kept"
    )


_PASSWORD_FILE = click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="read the password from this file (default: a random one, printed once); never "
    "give a password on the command line",
)


def _make_login(settings: Settings, kind: str, name: str, password_file: Path | None) -> None:
    from storage.db_roles import GROUPS, LoginRoleError, create_login, new_password

    secret = password_file.read_text().strip() if password_file else new_password()
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            created = create_login(conn, name, secret, GROUPS[kind])
    except LoginRoleError as exc:
        raise click.ClickException(str(exc)) from exc
    info = psycopg.conninfo.conninfo_to_dict(settings.database_url)
    url = psycopg.conninfo.make_conninfo(settings.database_url, user=name, password=None)
    click.echo(f"{kind} login {name} {'created' if created else 'password reset'}")
    if password_file is None:
        click.echo(f"password (shown once): {secret}")
    click.echo(
        f"connect: '{url}'  (database {info.get('dbname', '?')}, role {GROUPS[kind]}; "
        "the password from a libpq passfile or PGPASSWORD)"
    )


@db.command("analyst-user")
@click.argument("name")
@_PASSWORD_FILE
@click.pass_context
def analyst_user_cmd(ctx: click.Context, name: str, password_file: Path | None) -> None:
    """Create a login role for an analyst (member of pts_analyst: the analyst views only),
    or reset its password. Roles belong to the server: one login serves every database."""
    _make_login(get_settings(ctx), "analyst", name, password_file)


@db.command("login")
@click.argument("kind", type=click.Choice(["stream", "intake", "web", "certify", "analyst"]))
@click.argument("name")
@_PASSWORD_FILE
@click.pass_context
def login_cmd(ctx: click.Context, kind: str, name: str, password_file: Path | None) -> None:
    """Create a password login for a service (its least-privilege group role, migration 015;
    docs/database-roles.md), or reset its password. Set the service's
    PTS_<KIND>_DATABASE_URL to it."""
    _make_login(get_settings(ctx), kind, name, password_file)
