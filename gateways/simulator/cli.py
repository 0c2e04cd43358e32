"""`pts simulate meters`: serve simulated meters over Modbus TCP on loopback (real time)."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime

import click

from gateways.clock import SystemClock
from gateways.simulator.fleet import make_fleet


@click.group()
def simulate() -> None:
    """Simulated revenue meters."""


@simulate.command("meters")
@click.option("--count", default=10, show_default=True)
@click.option("--port", default=15020, show_default=True, help="first port; 10 meters per port")
@click.option("--seed", default=1, show_default=True)
def meters(count: int, port: int, seed: int) -> None:
    """Serve COUNT meters (unit ids 1-10 per port) until interrupted."""

    async def serve() -> None:
        now = datetime.now(UTC)
        fleet = make_fleet(SystemClock(), count, now.replace(hour=0, minute=0), seed=seed)
        fleet.base_port = port
        await fleet.start()
        for meter in fleet.meters:
            host, p = fleet.address_of(meter)
            click.echo(f"{meter.meter_id} {meter.kind} {host}:{p} unit {meter.unit_id}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await fleet.stop()

    asyncio.run(serve())
