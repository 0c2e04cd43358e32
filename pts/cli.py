"""The `pts` command: a thin edge that only wires packages together.

Each package owns its commands in its own `cli.py`; they are imported lazily so that
`pts --help` stays fast and a package's heavy imports (Faust, pymodbus) load only when used.
"""

from __future__ import annotations

import importlib
import sys
from datetime import datetime
from typing import Any

import click

from pts.failures import explain
from pts.logging import configure_logging
from pts.settings import Settings, get_settings, load_settings, service_database_url

# command name -> "module:attribute" of a click command or group
SUBCOMMANDS: dict[str, str] = {
    "db": "storage.cli:db",
    "schemas": "schemas.cli:schemas",
    "gateway": "gateways.cli:gateway",
    "simulate": "gateways.cli:simulate",
    "bridge": "ingest.cli:bridge",
    "das": "ingest.cli:das",
    "stream": "stream.cli:stream",
    "registry": "certification.cli:registry",
    "report": "certification.cli:report",
    "month": "certification.cli:month",
    "audit": "certification.cli:audit",
    "srec": "certification.cli:srec",
    "demo": "pts.demo_cli:demo",
    "web": "web.cli:web",
    "kafka": "pts.kafka_cli:kafka",
    "accounts": "web.cli:accounts",
    "provenance": "pts.commands.provenance:provenance",
}

# commands another package contributes to a group: the broker accounts of gateways belong to
# ingest (our broker's accounts), but operators look for them under `pts gateway`
EXTRA_COMMANDS: dict[str, list[str]] = {
    "gateway": [
        "ingest.cli:gateway_add_user",
        "ingest.cli:gateway_remove_user",
        "pts.commands.gateway_keys:keygen_cmd",  # the gateway's signing key (docs/provenance.md)
        "pts.commands.gateway_keys:key_group",  # public keys in the registry
    ],
    # commands that wire two packages live at the edge (pts/commands/)
    "db": ["pts.commands.db_load:load_cmd"],
    # the DAS intake is served by the web service (one HTTP stack), on its old port
    "das": ["web.cli:das_serve"],
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return None  # that package has not landed yet
            raise
        command: click.Command = getattr(module, attr)
        if isinstance(command, click.Group):
            for extra in EXTRA_COMMANDS.get(cmd_name, []):
                extra_module, extra_attr = extra.split(":")
                sub: click.Command = getattr(importlib.import_module(extra_module), extra_attr)
                command.add_command(sub)
        return command


@click.group(cls=LazyGroup)
@click.option("--log-format", type=click.Choice(["console", "json"]), default=None)
@click.pass_context
def cli(ctx: click.Context, log_format: str | None) -> None:
    """PTS: Production Tracking System for renewable-energy meter data."""
    settings = load_settings()
    if log_format is not None:
        settings = settings.model_copy(update={"log_format": log_format})
    configure_logging(settings.log_format, settings.log_level)
    ctx.obj = settings
    ctx.meta["pts.token_account"] = token_account


def token_account(settings: Settings, token: str, now: datetime) -> Any:
    """The account a live personal API token names, verified against the web's accounts
    tables through the web service's database login (revoked, expired, a disabled account:
    None). Wired in here, at the edge, for the commands that act for a person: certification
    may not import web, and its own login holds no credentials."""
    import psycopg

    from web.accounts import token_account as web_token_account

    with psycopg.connect(service_database_url(settings, "web"), autocommit=True) as conn:
        return web_token_account(conn, token, now)


__all__ = ["cli", "get_settings", "main"]


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: an expected failure (pts.failures) prints one line and a hint and
    exits 1; anything else keeps its traceback."""
    try:
        return cli.main(args=argv, prog_name="pts")
    except Exception as exc:
        explained = explain(exc)
        if explained is None:
            raise
        message, hint = explained
        click.echo(f"error: {message}\nhint: {hint}", err=True)
        sys.exit(1)
