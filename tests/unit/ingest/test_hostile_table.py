"""The hostile-input table of docs/ingest.md: every row names tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_TEST = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _table_rows() -> list[str]:
    text = (ROOT / "docs" / "ingest.md").read_text()
    section = text.split("## Hostile input → outcome", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_every_row_of_the_hostile_input_table_is_backed_by_a_test() -> None:
    """Each row (after the header) names at least one test, and each named test exists."""
    rows = _table_rows()[1:]
    assert len(rows) >= 25
    for row in rows:
        named = _TEST.findall(row)
        assert named, f"no test named in: {row}"
        for path, name in named:
            assert name in _functions(ROOT / path), f"{path}::{name} does not exist"


def test_every_test_the_readme_and_docs_name_exists() -> None:
    """README.md and docs/*.md name tests as `path::name` (the hostile-input table is in the
    README too): a test moved or renamed must take its references with it."""
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = [(doc.name, *ref) for doc in documents for ref in _TEST.findall(doc.read_text())]
    assert len(named) >= 25
    missing = [
        f"{doc}: {path}::{name}"
        for doc, path, name in named
        if not (ROOT / path).is_file() or name not in _functions(ROOT / path)
    ]
    assert missing == []
