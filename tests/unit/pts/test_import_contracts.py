"""The import contracts in .importlinter hold on the tree, and they bite: a lower layer that
imports a higher one fails `lint-imports` (so `make check` and CI fail)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("schemas", "storage", "gateways", "ingest", "stream", "certification", "web", "pts")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` run in `tree`, importing the packages found there first."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_tree(dest: Path) -> Path:
    """The packages' sources and the contracts, copied (the shared tree is never touched)."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            dest / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "json"),
        )
    shutil.copy(ROOT / ".importlinter", dest / ".importlinter")
    return dest


def test_contracts_hold_on_the_tree() -> None:
    """Every contract is kept by today's code."""
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken\.", result.stdout), result.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_the_layers(tmp_path: Path) -> None:
    """storage importing web (an upward import) fails the layers contract, naming the import."""
    tree = copy_tree(tmp_path)
    assert lint_imports(tree).returncode == 0
    (tree / "storage" / "upward.py").write_text("import web.app\n")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "storage is not allowed to import web" in result.stdout
    assert "storage.upward -> web.app" in result.stdout


def test_the_pure_stream_core_may_not_reach_the_database(tmp_path: Path) -> None:
    """A pure stage importing psycopg fails the pure-stream contract."""
    tree = copy_tree(tmp_path)
    stages = tree / "stream" / "stages.py"
    stages.write_text(stages.read_text() + "\nimport psycopg  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "stream.stages is not allowed to import psycopg" in result.stdout
