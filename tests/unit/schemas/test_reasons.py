"""One set of dead-letter reason codes: the bridge and the stream refuse with the same enum,
and every code is documented where it is defined."""

from __future__ import annotations

import ingest.errors
import schemas.reasons
import stream.errors
from schemas.reasons import ReasonCode


def test_bridge_and_stream_share_one_enum() -> None:
    """ingest and stream name the same class (a bridge dead letter can be re-driven by code)."""
    assert ingest.errors.ReasonCode is ReasonCode
    assert stream.errors.ReasonCode is ReasonCode


def test_the_bridge_codes_are_stream_codes() -> None:
    """topic_mismatch, the bridge's own refusal, is a code the stream's tools can parse."""
    assert ReasonCode("topic_mismatch") is ReasonCode.TOPIC_MISMATCH
    assert ReasonCode("malformed_json") is ReasonCode.MALFORMED_JSON


def test_every_code_is_documented() -> None:
    """The module docstring lists every code once, at the start of a line."""
    doc = schemas.reasons.__doc__ or ""
    lines = doc.splitlines()
    listed = [line.split()[0] for line in lines if line[:4] == "    " and line[4:5].isalpha()]
    assert sorted(listed) == sorted(code.value for code in ReasonCode)


def test_redrivable_codes_are_codes() -> None:
    """The stream's re-drive policy names codes of the one enum."""
    assert set(ReasonCode) >= stream.errors.REDRIVABLE
    assert ReasonCode.TOPIC_INVALID in stream.errors.REDRIVABLE
