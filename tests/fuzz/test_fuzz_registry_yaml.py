"""Fuzz the registry document `pts registry load` reads (certification.registry_document):
any text gives a parsed document of valid records, or a Refused naming what is wrong, before
any database work; nothing else escapes (a crash here is a traceback for the operator)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

from certification.errors import Refused
from certification.registry_document import read_registry_text
from pts.cli import cli
from schemas.registry import DasProvider, Meter, System
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.yaml_texts import dump, hostile, values

GOOD: dict[str, dict[str, Any]] = {
    "providers": {"provider_id": "das-1", "name": "DAS One", "approved": True},
    "accounts": {"account_id": "rep-1", "role": "system_representative"},
    "approved_meters": {"model": "ACME-1", "accuracy_class": "2.0"},
    "systems": {
        "system_id": "S1",
        "owner_id": "owner-1",
        "capacity_kw_dc": "10",
        "reporting_method": "manual",
    },
    "meters": {
        "meter_id": "M1",
        "system_id": "S1",
        "serial": "X1",
        "model": "ACME-1",
        "accuracy_class": "2.0",
        "installed_on": "2024-01-01",
    },
}


@st.composite
def documents(draw: st.DrawFn) -> Any:
    """Registry documents: good records with fields dropped, retyped or replaced."""
    if draw(st.integers(0, 9)) == 0:
        return draw(values)
    doc: dict[str, Any] = {}
    for section, record in GOOD.items():
        if not draw(st.booleans()):
            continue
        if draw(st.integers(0, 9)) == 0:
            doc[section] = draw(values)  # not a list of records
            continue
        records = []
        for _ in range(draw(st.integers(0, 3))):
            item: Any = dict(record)
            for key in list(item):
                change = draw(st.integers(0, 6))
                if change == 0:
                    del item[key]
                elif change == 1:
                    item[key] = draw(values)
            if draw(st.integers(0, 9)) == 0:
                item = draw(values)
            records.append(item)
        doc[section] = records
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.text(max_size=10))] = draw(values)
    return doc


texts = st.one_of(documents().map(dump), documents().map(dump), hostile())


@fuzz_settings
@given(text=texts)
@example(text="accounts: [{account_id: a}]\n")  # KeyError: role
@example(text="accounts: [{account_id: a, role: king}]\n")  # ValueError: not a role
@example(text="systems: 5\n")  # TypeError: not iterable
@example(text="- 1\n- 2\n")  # AttributeError: a list has no .get
@example(text="approved_meters: [{model: X, accuracy_class: '3.0'}]\n")
@example(text="[" * 100_000 + "]" * 100_000)  # RecursionError
def test_fuzz_registry_text_gives_valid_records_or_a_refusal(text: str) -> None:
    """A document parses into records that passed their schemas, or is refused with the
    code registry_unreadable / registry_refused and a reason."""
    try:
        doc = read_registry_text(text, "registry fuzz.yaml")
    except Refused as refusal:
        refused = (refusal.code, bool(refusal.message))
        doc = None
    if doc is None:
        assert refused in (("registry_unreadable", True), ("registry_refused", True))
        return
    assert all(isinstance(p, DasProvider) for p in doc.providers)
    assert all(isinstance(s, System) for s in doc.systems)
    assert all(isinstance(m, Meter) for m in doc.meters)
    assert all(isinstance(a, str) for account in doc.accounts for a in account)
    assert all(isinstance(k, str) for k in doc.approved)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("accounts: [{account_id: a}]\n", "refused: registry_refused: "),
        ("systems: 5\n", "refused: registry_refused: "),
        ("- 1\n", "refused: registry_unreadable: "),
        ("[" * 100_000 + "]" * 100_000, "refused: registry_unreadable: "),
        ("a: &a [1]\nb: *a\n", "refused: registry_unreadable: "),
    ],
)
def test_registry_load_refuses_a_bad_file_before_connecting(
    tmp_path: Path, text: str, said: str
) -> None:
    """`pts registry load` answers a bad file with a refusal (exit 2), not a traceback, and
    before any database work (the database URL here leads nowhere)."""
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    result = CliRunner().invoke(
        cli,
        ["registry", "load", str(path)],
        env={"PTS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    assert (result.exit_code, result.stderr[: len(said)]) == (2, said), result.output
