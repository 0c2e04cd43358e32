"""Every example query in docs/analysts.md runs as pts_analyst."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[3] / "docs" / "analysts.md"


def example_queries() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)
    return [b for b in blocks if not b.lstrip().upper().startswith("CREATE ROLE")]


def test_the_doc_has_six_examples() -> None:
    """The examples this test runs are all there (guards the extraction)."""
    assert len(example_queries()) == 6


def test_every_example_runs_as_the_analyst(fresh_db: str) -> None:
    """Each query parses, plans and runs with only pts_analyst's rights."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("SET ROLE pts_analyst")
        results = [conn.execute(query).fetchall() for query in example_queries()]
    assert results == [[], [], [], [], [], []]
