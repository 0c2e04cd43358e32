"""`pts demo` end to end with small numbers: exit 0 on exact totals, and a check that can fail."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def demo_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="pts-demo-"))
    folder.chmod(0o755)
    yield folder
    subprocess.run([sys.executable, "-m", "pts.cli", "demo", "--clean", "--dir", str(folder)],
                   capture_output=True, check=False)  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_demo(folder: Path, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pts.cli import main; main()", "demo", "--meters", "6",
         "--month", "2026-11", "--faults", "--dir", str(folder), "--pg-port", str(port), *extra],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_demo_small_month_matches_ground_truth_and_second_run_reuses(demo_dir: Path) -> None:
    """6 meters with faults through November (DST): exit 0, summary, export, chart; run twice."""
    port = free_port()
    first = run_demo(demo_dir, port)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "ground truth: every meter with data equals the simulator to the Wh" in first.stdout
    assert "SIM-0004: no data reached PTS (estimated)" in first.stdout
    assert "missing_month" in first.stdout
    assert (demo_dir / "report" / "gis-2026Q4-draft.csv").read_text().count("/2026,") >= 4
    assert (demo_dir / "report" / "production-2026-11.png").stat().st_size > 10_000
    assert (demo_dir / "pg" / "data" / "PG_VERSION").exists()
    # signed end to end: the summary ends with one system's certificates proven
    tail = first.stdout[first.stdout.index("provenance of SYS-") :]
    assert "all certificates of the month are proven" in tail
    assert "NOT PROVEN" not in tail
    second = run_demo(demo_dir, port)
    assert second.returncode == 0, second.stderr[-3000:]
    assert first.stdout.splitlines()[:10] == second.stdout.splitlines()[:10]


def test_demo_check_fails_when_a_total_is_wrong(demo_dir: Path) -> None:
    """Tampering with one stored total by 7 Wh makes the demo exit non-zero and say so."""
    result = run_demo(demo_dir, free_port(), "--inject-error-wh", "7")
    assert result.returncode == 1
    assert "DIFFER from the simulator" in result.stdout
    assert "monthly totals do not match the simulator's ground truth" in result.stderr
