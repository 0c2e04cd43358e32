"""`pts simulate meters` in its own process, for the benches that poll it (gateway.py,
soak_gateway.py): start it and read back the meters it lists on stdout."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from gateways.meters import MeterConfig

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^(SIM-\d+) (\w+) ([\d.]+):(\d+) unit (\d+)\b")


def start_simulator(
    count: int, port: int, speed: float | None = None
) -> tuple[subprocess.Popen[str], list[MeterConfig]]:
    """Start `count` simulated meters on `port` (time running `speed`× when given) and
    return the process with the meters' gateway configuration, once all are listed."""
    command = [sys.executable, "-c", "from pts.cli import main; main()", "simulate", "meters",
               "--count", str(count), "--port", str(port)]  # fmt: skip
    if speed is not None:
        command += ["--speed", str(speed)]
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    meters: list[MeterConfig] = []
    assert proc.stdout is not None
    while len(meters) < count:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the simulator stopped before listing its meters")
        match = LINE.match(line.strip())
        if match:
            meter_id, kind, host, meter_port, unit = match.groups()
            meters.append(MeterConfig(
                meter_id=meter_id, host=host, port=int(meter_port), unit_id=int(unit),
                map="sunspec" if kind == "sunspec" else "pts-sim-uint32-le",
            ))  # fmt: skip
    return proc, meters
