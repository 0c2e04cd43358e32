"""Every finding code the certification rules make has a plain sentence for owners."""

from __future__ import annotations

import ast
from pathlib import Path

from web.finding_wording import OTHER, SENTENCES, finding_sentence

CERTIFICATION = Path(__file__).resolve().parents[3] / "certification"


def finding_codes() -> set[str]:
    """The codes of every `Finding("code", ...)` written in certification/ (its source read,
    not imported: a new finding anywhere in the rules is found here)."""
    codes = set()
    for path in CERTIFICATION.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Finding"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                codes.add(node.args[0].value)
    return codes


def test_the_rules_make_the_findings_this_test_knows_of() -> None:
    """The scan finds the codes (a scan finding nothing would prove nothing)."""
    assert {"gap", "over_capacity", "late_readings", "true_up_amended"} <= finding_codes()


def test_every_finding_code_has_a_sentence() -> None:
    assert sorted(finding_codes() - SENTENCES.keys()) == []


def test_sentences_are_plain_and_carry_no_code() -> None:
    """A sentence starts with a capital, ends with a full stop and names no code."""
    for code, sentence in SENTENCES.items():
        assert sentence[0].isupper(), code
        assert sentence.endswith("."), code
        assert not [c for c in SENTENCES if c in sentence and "_" in c], code


def test_an_unknown_code_gets_the_general_sentence() -> None:
    assert finding_sentence("something_new") == OTHER
