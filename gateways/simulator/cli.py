"""`pts simulate meters`: serve simulated meters over Modbus TCP on loopback."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime

import click

from gateways.clock import SimulatedClock
from gateways.simulator.fleet import make_fleet


@click.group()
def simulate() -> None:
    """Simulated revenue meters."""


@simulate.command("meters")
@click.option("--count", default=10, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--port", default=15020, show_default=True, help="first port; then one per group")
@click.option("--seed", default=1, show_default=True, help="clouds and capacities")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0.001),
              help="simulated seconds per real second")  # fmt: skip
@click.option("--units-per-port", default=10, show_default=True, type=click.IntRange(1, 247))
@click.option("--framing", type=click.Choice(["tcp", "rtu-over-tcp"]), default="tcp",
              show_default=True)  # fmt: skip
def meters(count: int, port: int, seed: int, speed: float, units_per_port: int,
           framing: str) -> None:  # fmt: skip
    """Serve COUNT meters (unit ids 1..UNITS_PER_PORT on each port) until interrupted.

    Every fifth meter is YAML-mapped (map pts-sim-uint32-le), the others SunSpec (model 1 +
    203). Production follows a clear-sky model for Massachusetts with seeded clouds.
    """

    async def serve() -> None:
        now = datetime.now(UTC)
        clock = SimulatedClock(now, speed)
        rtu = framing == "rtu-over-tcp"
        fleet = make_fleet(clock, count, now, seed=seed, units_per_port=units_per_port,
                           framing="rtu-over-tcp" if rtu else "tcp")  # fmt: skip
        fleet.base_port = port
        fleet.keep_served = False  # its ground truth is never read: do not keep it growing
        await fleet.start()
        for meter in fleet.meters:
            host, p = fleet.address_of(meter)
            click.echo(f"{meter.meter_id} {meter.kind} {host}:{p} unit {meter.unit_id}"
                       f" {meter.profile.capacity_w / 1000:g} kW")  # fmt: skip
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await fleet.stop()

    asyncio.run(serve())
