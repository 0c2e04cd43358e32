"""Per-reading DAS feedback decided from facts (web.das_feedback)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from web.das_feedback import DeadLetter, Refusals, RowFacts, decide, sort_dead_letters, summarise

TS = datetime(2026, 11, 1, 12, tzinfo=UTC)
POS = ("readings.raw", 2, 41)
SENT = RowFacts(1, "S-1", "M-1", TS, 5_000, 77, "h1", None, None, POS)
NONE = Refusals({}, {})


def test_intake_refusal_comes_first() -> None:
    """A row the intake refused keeps the intake's code and reason."""
    row = RowFacts(2, "S-9", None, None, None, None, None, "provider_mismatch", "not yours", None)
    got = decide(row, "acme", NONE)
    assert (got.status, got.code, got.reason, got.decided_by) == (
        "refused",
        "provider_mismatch",
        "not yours",
        "intake",
    )


def test_stored_duplicate_conflict_pending() -> None:
    """Stored: this source and sequence number at (meter, ts); duplicate: same content from
    elsewhere; conflict: other content stored and this one in reading_conflicts; else pending."""
    stored = replace(SENT, stored_source_id="acme", stored_seq=77, stored_hash="h1")
    earlier = replace(SENT, stored_source_id="acme", stored_seq=12, stored_hash="h1")
    other = replace(SENT, stored_source_id="gw", stored_seq=3, stored_hash="h2", in_conflicts=True)
    undecided = replace(other, in_conflicts=False)
    assert [decide(r, "acme", NONE).status for r in (stored, earlier, other, undecided, SENT)] == [
        "stored",
        "duplicate",
        "conflict",
        "pending",
        "pending",
    ]


def test_the_streams_dead_letter_of_the_carrying_record_refuses_the_reading() -> None:
    """A dead letter of the same record naming this meter and sequence number refuses it;
    one naming another reading of the record does not; an unreadable payload stands for the
    whole record."""
    mine = json.dumps({"meter_id": "M-1", "seq": 77}).encode()
    theirs = json.dumps({"meter_id": "M-1", "seq": 78}).encode()
    refusals = sort_dead_letters(
        [
            DeadLetter(POS, "future_timestamp", "check the meter clock", mine),
            DeadLetter(POS, "unknown_meter", "no such meter", theirs),
        ]
    )
    got = decide(SENT, "acme", refusals)
    assert (got.status, got.code, got.decided_by) == ("refused", "future_timestamp", "stream")
    whole = sort_dead_letters([DeadLetter(POS, "too_large", "split it", b"\xff\x00")])
    assert decide(SENT, "acme", whole).code == "too_large"
    elsewhere = sort_dead_letters([DeadLetter(("readings.raw", 2, 42), "too_large", "", b"x")])
    assert decide(SENT, "acme", elsewhere).status == "pending"


def test_summary_names_every_status() -> None:
    shown = [decide(SENT, "acme", NONE)]
    assert summarise(shown) == {
        "stored": 0,
        "duplicate": 0,
        "conflict": 0,
        "refused": 0,
        "pending": 1,
    }
