"""`pts db load FILE`: reading batches into storage, keeping stream's rollups current (it
wires storage and stream, so it lives at the edge and pts.cli adds it to `pts db`)."""

from __future__ import annotations

from pathlib import Path

import click
import psycopg

from pts.settings import get_settings
from schemas.reading import ReadingBatch
from stream.rollup_refresh import write_with_rollups


@click.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def load_cmd(ctx: click.Context, path: Path) -> None:
    """Load a file of reading batches (one ReadingBatch JSON per line) into `readings`,
    keeping the daily and monthly rollups current."""
    settings = get_settings(ctx)
    totals = [0, 0, 0]
    with psycopg.connect(settings.database_url) as conn:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                batch = ReadingBatch.model_validate_json(line)
            except ValueError as exc:
                raise click.ClickException(
                    f"{path}:{number}: not a valid reading batch: {exc}"
                ) from exc
            result = write_with_rollups(conn, batch.readings)
            totals = [
                totals[0] + result.new,
                totals[1] + result.duplicate,
                totals[2] + result.conflict,
            ]
    click.echo(f"new {totals[0]}, duplicate {totals[1]}, conflict {totals[2]}")
