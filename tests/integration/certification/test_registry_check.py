"""docs/registry.md's example is a registry that loads; `pts registry load --check` validates
a file (schema and registry rules, against what is stored) and writes nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from pts.cli import cli
from schemas.jsonschema import export_json_schemas
from tests.integration.web.support import bootstrap_admin

pytestmark = pytest.mark.integration
DOC = Path(__file__).resolve().parents[3] / "docs" / "registry.md"


def example() -> str:
    """The YAML block of the document's complete example."""
    text = DOC.read_text()
    found: str = re.findall(
        r"```yaml\n(.*?)```", text[text.index("## A complete example") :], re.S
    )[0]
    return found


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"PTS_DATABASE_URL": url})
    return result.exit_code, result.stdout, result.stderr


def counts(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM systems), (SELECT count(*) FROM meters),"
            " (SELECT count(*) FROM das_providers)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_check_validates_the_documented_example_without_writing(
    fresh_db: str, tmp_path: Path
) -> None:
    """--check says what would be loaded and stores nothing; the load then stores it all."""
    path = tmp_path / "registry.yaml"
    path.write_text(example())
    assert run(fresh_db, "registry", "load", "--check", str(path))[:2] == (
        0,
        f"{path}: valid; would load providers=2 accounts=3 approved_meters=2 systems=3 meters=3\n",
    )
    assert counts(fresh_db) == (0, 0, 0)
    bootstrap_admin(fresh_db, "staff-1")
    code, out, _ = run(fresh_db, "registry", "load", str(path), "--as", "staff-1")
    assert (code, out) == (0, "providers=2 accounts=3 approved_meters=2 systems=3 meters=3\n")
    assert counts(fresh_db) == (3, 3, 2)


def test_check_names_every_problem(fresh_db: str, tmp_path: Path) -> None:
    """A meter of an unapproved model and an automatic system without provider: both said,
    exit 2, nothing written."""
    bad = example().replace("model: ACME-1, accuracy", "model: NOPE-9, accuracy", 1)
    bad = bad.replace("    das_provider_id: sunny\n", "")
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    code, _, err = run(fresh_db, "registry", "load", "--check", str(path))
    assert code == 2
    assert err.startswith("refused: registry_refused: ")
    assert "an automatically reported system needs das_provider_id" in err
    assert counts(fresh_db) == (0, 0, 0)


def test_the_registry_has_a_json_schema(tmp_path: Path) -> None:
    """`pts schemas export` writes registry.schema.json with the five sections."""
    written = {p.name: p for p in export_json_schemas(tmp_path)}
    schema = json.loads(written["registry.schema.json"].read_text())
    assert sorted(schema["properties"]) == [
        "accounts", "approved_meters", "meters", "providers", "systems"
    ]  # fmt: skip
    assert schema["additionalProperties"] is False
