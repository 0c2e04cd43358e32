"""`pts gateway run --config FILE`: the edge agent as a long-running process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from gateways.agent import GatewayAgent
from gateways.agent_config import load_config
from gateways.clock import SystemClock
from gateways.errors import ConfigError


@click.group()
def gateway() -> None:
    """The edge gateway agent (Modbus → spool → MQTT)."""


@gateway.command("run")
@click.option(
    "--config", "config_path", type=click.Path(exists=True, path_type=Path), required=True
)
def run(config_path: Path) -> None:
    """Poll the configured meters on interval boundaries and publish every reading."""
    try:
        config = load_config(config_path)
        asyncio.run(_run(config))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


async def _run(config: object) -> None:
    from gateways.agent_config import GatewayConfig

    assert isinstance(config, GatewayConfig)
    agent = GatewayAgent(config, SystemClock())
    if config.metrics_port is not None:
        from gateways.metrics import gateway_registry
        from pts.metrics_server import serve

        serve(gateway_registry(agent), config.metrics_port, config.metrics_host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await agent.run(stop)
        await agent.drain(seconds=10)
    finally:
        await agent.close()
