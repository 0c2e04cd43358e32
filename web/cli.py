"""`pts web serve` and `pts accounts create-admin`.

The first admin is created on the server itself; the password comes from a prompt, a file
(`--password-file`) or the `PTS_ADMIN_PASSWORD` variable, never from the command line (it
would show in the process list and the shell history).
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import psycopg

from certification.errors import Refused
from pts.settings import Settings, get_settings
from web.accounts import create_admin
from web.context import utc_now

PASSWORD_ENV = "PTS_ADMIN_PASSWORD"


@click.group()
def web() -> None:
    """The web service: portal and API."""


@web.command("serve")
@click.option("--host", default=None, help="address to bind (default: PTS_WEB_HOST)")
@click.option("--port", type=int, default=None, help="port (default: PTS_WEB_PORT)")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the portal and the API with uvicorn (one process; put TLS in front of it)."""
    settings = get_settings(ctx)
    run_server(settings, host or settings.web_host, port or settings.web_port)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8470, show_default=True)
@click.pass_context
def das_serve(ctx: click.Context, host: str, port: int) -> None:
    """HTTP intake of DAS reports: the web service (POST /api/v1/das/reports, and
    POST /v1/reports as before; header X-API-Key) on the intake's old port."""
    run_server(get_settings(ctx), host, port)


def run_server(settings: Settings, host: str, port: int) -> None:
    """The one HTTP server of PTS (portal, API, DAS intake) on host:port until stopped."""
    import uvicorn

    from pts.metrics_server import serve as serve_metrics
    from web.app import create_app

    app = create_app(settings)
    serve_metrics(app.state.metrics.registry, settings.web_metrics_port, settings.metrics_host)
    click.echo(f"PTS web on http://{host}:{port}/")
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,  # the app logs each request by route template, never its secrets
        log_level="warning",
    )


@click.group()
def accounts() -> None:
    """Accounts that sign in to the web service."""


@accounts.command("create-admin")
@click.argument("account_id")
@click.option("--name", default="", help="the person's name")
@click.option("--email", default="", help="their email (shown to staff; no mail is sent)")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help=f"read the password from this file (else ${PASSWORD_ENV}, else a prompt)",
)
@click.pass_context
def create_admin_command(
    ctx: click.Context, account_id: str, name: str, email: str, password_file: Path | None
) -> None:
    """Create the first admin on the server (run where the database is reachable)."""
    if password_file is not None:
        password = password_file.read_text().rstrip("\r\n")
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with psycopg.connect(get_settings(ctx).database_url, autocommit=True) as conn:
        try:
            admin = create_admin(conn, account_id, name, email, password, utc_now())
        except Refused as refusal:
            click.echo(f"refused: {refusal.code}: {refusal.message}", err=True)
            raise SystemExit(2) from refusal
    click.echo(f"admin {admin.account_id} created; sign in at /signin")
