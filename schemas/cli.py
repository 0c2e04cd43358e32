"""`pts schemas …`: export the contracts."""

from __future__ import annotations

from pathlib import Path

import click

from schemas.jsonschema import export_json_schemas


@click.group()
def schemas() -> None:
    """The data contracts (JSON Schema)."""


@schemas.command("export")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("schemas/json"))
def export(out_dir: Path) -> None:
    """Write JSON Schema files for every contract."""
    for path in export_json_schemas(out_dir):
        click.echo(str(path))
