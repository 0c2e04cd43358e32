"""The benchmarks under bench/ still run, at their smallest sizes.

Nothing in CI gates on their figures (speed is measured by running them, not by tests), but
a bench that no longer runs silently stops measuring: bench/gateway.py's publish ceiling had
been failing since the v2 envelope and bench/bridge.py since topics stopped being created on
first use. Each case runs the script as a user would, against the suite's services, and
checks that it printed its figures (a number on each line it promises)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.ingest.support import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"[\d,]+(?:\.\d+)?"

CASES = {
    "storage": (
        ["bench/storage.py", "--readings", "600", "--batch", "200"],
        [
            rf"raw COPY into readings \(ceiling\)\s+{NUMBER}\s+100%",
            rf"writer, new rows \(optimistic COPY\)\s+{NUMBER}\s+\d+%",
            rf"writer, all rows redelivered \(dedupe path\)\s+{NUMBER}\s+\d+%",
        ],
    ),
    "bridge": (
        ["bench/bridge.py", "--messages", "20", "--meters", "4"],
        [
            rf"raw MQTT pub/sub \(QoS 1\)\s+{NUMBER} msg/s",
            rf"raw Kafka produce \(idempotent, acks=all\)\s+{NUMBER} msg/s",
            rf"bridge MQTT → Kafka \(end to end\)\s+{NUMBER} msg/s",
        ],
    ),
    "gateway": (
        ["bench/gateway.py", "--meters", "2", "--ticks", "2", "--sim-port", "FREE_PORT"],
        [
            rf"polling only \(Modbus ceiling\)\s+{NUMBER}",
            rf"raw paho QoS 1 publish of the same messages \(ceiling\)\s+{NUMBER}",
            rf"gateway: poll → spool → publish → PUBACK → delete\s+{NUMBER}",
        ],
    ),
    "provenance": (
        ["bench/provenance.py", "--batches", "20", "--rounds", "1"],
        [
            rf"worker core, signed \+ verified\s+{NUMBER}",
            rf"verifying costs the worker\s+[+-]?{NUMBER}",
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_bench_runs_and_prints_its_figures(name: str) -> None:
    command, promised = CASES[name]
    args = [str(free_port()) if arg == "FREE_PORT" else arg for arg in command]
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=280, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"bench/{name}.py failed:\n{output[-3000:]}"
    missing = [line for line in promised if not re.search(line, done.stdout)]
    assert not missing, f"bench/{name}.py did not print {missing}:\n{done.stdout[-3000:]}"
