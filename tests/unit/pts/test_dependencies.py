"""Every third-party module the packages import is declared in pyproject.toml's dependencies
(aiohttp was imported once without being declared: it came only through faust)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OURS = ("schemas", "storage", "gateways", "ingest", "stream", "certification", "web", "pts")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_levels() -> set[str]:
    found: set[str] = set()
    for package in OURS:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - set(OURS) - set(sys.stdlib_module_names) - {"__future__"}


def test_every_imported_distribution_is_declared() -> None:
    """The distributions behind our imports are all in [project] dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [d for name, deps in project["optional-dependencies"].items() if name != "dev"
              for d in deps]  # fmt: skip
    names = project["dependencies"] + extras  # an optional import is declared in its extra
    declared = {normalized(re.split(r"[<>=!~\[; ]", d)[0]) for d in names}
    owners = packages_distributions()
    missing = {
        module: sorted(owners.get(module, ["?"]))
        for module in sorted(imported_top_levels())
        if not any(normalized(d) in declared for d in owners.get(module, [normalized(module)]))
    }
    assert missing == {}
