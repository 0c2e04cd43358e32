"""`pts demo` shows a person only its progress and its summary: every log line goes to
demo.log under the demo's folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_demo import demo_dir, free_port

pytestmark = pytest.mark.integration
__all__ = ["demo_dir"]  # the fixture, shared with test_demo.py

# a structlog line: an ISO timestamp, then the level in brackets
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \[")


def test_logs_go_to_the_demo_folder_not_the_terminal(demo_dir: Path) -> None:
    """2 meters, daily polls: stderr holds the progress bar only, stdout the summary; the
    migrations and the meters found are in <dir>/demo.log."""
    result = subprocess.run(
        [sys.executable, "-c", "from pts.cli import main; main()", "demo", "--meters", "2",
         "--interval", "1440", "--dir", str(demo_dir), "--pg-port", str(free_port())],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    terminal = result.stdout.splitlines() + result.stderr.replace("\r", "\n").splitlines()
    assert [line for line in terminal if LOG_LINE.match(line)] == []
    assert "polling 2 meters through 2026-10" in result.stderr
    assert result.stdout.startswith("PTS demo: 2026-10, 2 systems")
    assert f"log:         {demo_dir / 'demo.log'}" in result.stdout
    log = (demo_dir / "demo.log").read_text()
    assert "migration_applied" in log
    assert log.count("sunspec_meter_found") == 2
