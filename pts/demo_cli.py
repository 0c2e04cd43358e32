"""`pts demo`: the main job on the embedded default."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pts.logging import configure_logging
from pts.settings import PROJECT_ROOT, get_settings


@click.command()
@click.option("--meters", default=100, show_default=True, help="simulated meters (one system each)")
@click.option("--month", default="2026-10", show_default=True, help="YYYY-MM, local time")
@click.option("--seed", default=1, show_default=True)
@click.option("--faults", is_flag=True, help="inject an outage, a stuck register, a reset, "
              "a dead meter and a rollover")  # fmt: skip
@click.option("--interval", "interval_min", default=60, show_default=True,
              help="polling interval, minutes")  # fmt: skip
@click.option("--pg-port", default=15532, show_default=True)
@click.option("--dir", "folder", type=click.Path(path_type=Path),
              default=PROJECT_ROOT / ".local" / "demo", show_default=True)  # fmt: skip
@click.option("--clean", is_flag=True, help="stop the demo's database and remove its folder")
@click.option("--serve", is_flag=True, help="then keep the portal running on the demo's data")
@click.option("--serve-port", default=8000, show_default=True, help="port of the portal")
@click.option(
    "--inject-error-wh",
    default=0,
    hidden=True,
    help="tamper with one stored total before the check (shows the check can fail)",
)
def demo(meters: int, month: str, seed: int, faults: bool, interval_min: int, pg_port: int,
         folder: Path, clean: bool, inject_error_wh: int, serve: bool = False,
         serve_port: int = 8000) -> None:  # fmt: skip
    """Run a simulated month end to end on this machine and check it against ground truth."""
    from tqdm import tqdm

    from pts.demo import DemoOptions, run_demo, ticks_in
    from pts.demo import clean as clean_demo
    from pts.demo_truth import all_match
    from storage.embedded import EmbeddedPostgresError

    options = DemoOptions(meters, month, seed, faults, interval_min, folder, pg_port,
                          inject_error_wh)  # fmt: skip
    if clean:
        clean_demo(options)
        click.echo(f"removed {folder}")
        return
    # the terminal shows the progress bar and the summary; every log line goes to demo.log
    settings = get_settings(click.get_current_context())
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "demo.log"
    try:
        with log_path.open("a") as log_file, tqdm(
            total=ticks_in(options), desc=f"polling {meters} meters through {month}",
            unit="poll", file=sys.stderr,
        ) as bar:  # fmt: skip
            configure_logging(settings.log_format, settings.log_level, log_file)
            try:
                result = run_demo(options, bar)
            finally:
                configure_logging(settings.log_format, settings.log_level)
    except EmbeddedPostgresError as exc:
        raise click.ClickException(f"{exc} (the demo's log: {log_path})") from exc
    click.echo(result.report_path.read_text())
    click.echo(f"log:         {log_path}")
    if not all_match(result.checks):
        raise click.ClickException("monthly totals do not match the simulator's ground truth")
    if serve:
        from web.demo_serve import serve_demo

        serve_demo(settings, result.database_url, serve_port)
