"""`pts provenance SYSTEM MONTH`: every certificate of a closed system-month traced to the
readings its gateway signed, each verified (certification.workflows.check_provenance).

Exit status 0 when everything is proven, 1 when something is not (the report names it).
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
import psycopg

from certification.workflows.check_provenance import check_provenance, render
from pts.settings import get_settings


@click.command("provenance")
@click.argument("system_id")
@click.argument("month")
@click.pass_context
def provenance(ctx: click.Context, system_id: str, month: str) -> None:
    """Trace SYSTEM's certificates of MONTH (YYYY-MM) to signed readings and verify them."""
    with psycopg.connect(get_settings(ctx).database_url) as conn:
        try:
            report = check_provenance(conn, system_id, month, datetime.now(UTC))
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(render(report))
    if not report.proven:
        ctx.exit(1)
