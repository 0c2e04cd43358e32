"""The README's first command works with Debian's own interpreter: `make demo
PYTHON=/usr/bin/python3` makes the project venv with it and installs and runs everything from
the venv (Debian's python3 refuses `pip install` outside one, PEP 668). CI runs it for real
(.ci/run); here the plan `make -n` prints is checked."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def planned(target: str, tmp_path: Path, *args: str) -> list[str]:
    """The commands `make -n target` would run, with a venv that does not exist yet."""
    result = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, f"VENV={tmp_path / 'venv'}", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line for line in result.stdout.splitlines() if not line.startswith("make")]


def test_demo_makes_the_venv_with_the_given_interpreter(tmp_path: Path) -> None:
    """The venv is made by /usr/bin/python3; pip and pts run from the venv, never outside."""
    venv = tmp_path / "venv"
    lines = planned("demo", tmp_path, "PYTHON=/usr/bin/python3")
    assert lines[0].startswith(f"/usr/bin/python3 -m venv {venv} ")
    pip = [line.strip() for line in lines if " pip install" in line]
    assert pip, lines
    assert all(line.startswith(f"{venv}/bin/python -m pip install") for line in pip), pip
    assert lines[-1].strip() == f"{venv}/bin/pts demo"


def test_tests_run_from_the_venv_too(tmp_path: Path) -> None:
    """`make install test PYTHON=/usr/bin/python3`: the same venv, pytest from it."""
    venv = tmp_path / "venv"
    lines = planned("install", tmp_path, "PYTHON=/usr/bin/python3") + planned(
        "test", tmp_path, "PYTHON=/usr/bin/python3"
    )
    assert lines[0].startswith(f"/usr/bin/python3 -m venv {venv} ")
    assert f"{venv}/bin/python -m pip install -q -e '.[dev]'" in lines
    assert lines[-1].startswith(f"{venv}/bin/python -m pytest")


def test_ci_runs_both_readme_commands_with_debians_python() -> None:
    """.ci/run runs the demo and the tests with the system interpreter, as a new user would."""
    script = (ROOT / ".ci" / "run").read_text()
    assert 'make demo PYTHON="$system_python"' in script
    assert 'make test-all PYTHON="$system_python"' in script
