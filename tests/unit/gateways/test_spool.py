"""The spool: sequence numbers survive reopening, oldest first, bounded, deleted only on ack."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from gateways.errors import SpoolFullError
from gateways.sample import MeterSample
from gateways.spool import Spool
from schemas.reading import Reading, Source

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def sample(meter_id: str, minutes: int, energy_wh: int) -> MeterSample:
    ts = T0 + timedelta(minutes=minutes)
    return MeterSample(
        meter_id=meter_id, ts=ts, gateway_ts=ts + timedelta(seconds=2), energy_wh=energy_wh,
        unit_id=3, scale_factor=0, raw_words=(0, energy_wh), register_modulus_wh=2**32,
    )  # fmt: skip


def test_readings_carry_gateway_source_and_sequence(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", "gw-7")
    readings = spool.store([sample("M1", 0, 100), sample("M2", 0, 200)])
    assert [(r.meter_id, r.seq, r.energy_wh) for r in readings] == [("M1", 1, 100), ("M2", 2, 200)]
    assert readings[0].source is Source.GATEWAY
    assert readings[0].source_id == "gw-7"
    assert readings[0].received_at == T0 + timedelta(seconds=2)
    assert readings[0].raw_words == (0, 100)
    stored = spool.pending(10)
    assert [(seq, meter) for seq, meter, _ in stored] == [(1, "M1"), (2, "M2")]
    assert Reading.model_validate_json(stored[0][2]) == readings[0]
    spool.close()


def test_sequence_survives_reopen_even_when_the_spool_was_emptied(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", "gw-7")
    spool.store([sample("M1", 0, 100), sample("M1", 5, 150)])
    spool.ack([1, 2])
    assert spool.count() == 0
    spool.close()
    again = Spool(tmp_path / "s.db", "gw-7")
    assert again.last_seq() == 2
    assert [r.seq for r in again.store([sample("M1", 10, 190)])] == [3]
    again.close()


def test_pending_is_oldest_first_after_a_seq_and_ack_deletes_only_those(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", "gw-7")
    spool.store([sample("M1", i, 100 + i) for i in range(5)])
    assert [seq for seq, _, _ in spool.pending(2)] == [1, 2]
    assert [seq for seq, _, _ in spool.pending(10, after=3)] == [4, 5]
    spool.ack([2, 4])
    assert [seq for seq, _, _ in spool.pending(10)] == [1, 3, 5]
    assert [json.loads(body)["energy_wh"] for _, _, body in spool.pending(10)] == [100, 102, 104]
    spool.close()


def test_warns_at_80_percent_once_and_refuses_when_full(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", "gw-7", max_rows=10)
    with capture_logs() as logs:
        spool.store([sample("M1", i, i) for i in range(7)])
        spool.store([sample("M1", 7, 7)])
        spool.store([sample("M1", 8, 8)])
        with pytest.raises(SpoolFullError):
            spool.store([sample("M1", 9, 9), sample("M1", 10, 10)])
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("spool_nearly_full", "warning"),
        ("spool_full", "error"),
    ]
    assert logs[1]["refused"] == 2
    assert spool.count() == 9
    assert spool.last_seq() == 9  # refused readings took no sequence number
    spool.store([sample("M1", 9, 9)])  # the last row still fits
    assert spool.count() == 10
    spool.close()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.sets(st.integers(0, 40))), max_size=8))
def test_sequence_numbers_strictly_increase(
    tmp_path_factory: pytest.TempPathFactory, rounds: list[tuple[int, set[int]]]
) -> None:
    path = tmp_path_factory.mktemp("spool") / "s.db"
    seen: list[int] = []
    for size, acks in rounds:
        spool = Spool(path, "gw-7")
        seen += [r.seq for r in spool.store([sample("M1", i, i) for i in range(size)])]
        spool.ack(sorted(acks))
        spool.close()
    assert seen == list(range(1, len(seen) + 1))


def test_bytes_bound_refuses_and_an_ack_makes_room_again(tmp_path: Path) -> None:
    """A spool of three readings' worth of JSON: the fourth is refused; acking one frees its
    bytes; reopening the file counts what is held again."""
    probe = Spool(tmp_path / "probe.db", "gw-7")
    (one,) = probe.store([sample("M1", 0, 100)])
    size = probe.size_bytes()
    probe.close()
    assert size == len(one.model_dump_json())
    spool = Spool(tmp_path / "s.db", "gw-7", max_bytes=3 * size + 2)
    # one meter each: every reading opens its meter's chain (no prev_hash), so all weigh alike
    spool.store([sample(f"M{i + 1}", i, 100 + i) for i in range(3)])
    with pytest.raises(SpoolFullError, match="bytes"):
        spool.store([sample("M4", 3, 103)])
    spool.ack([1])
    assert (spool.count(), spool.size_bytes()) == (2, 2 * size)
    spool.store([sample("M4", 3, 103)])
    spool.close()
    reopened = Spool(tmp_path / "s.db", "gw-7", max_bytes=3 * size + 2)
    assert (reopened.count(), reopened.size_bytes()) == (3, 3 * size)
    reopened.close()


def test_a_full_disk_refuses_like_a_full_spool_and_never_crashes(tmp_path: Path) -> None:
    """SQLite's SQLITE_FULL (here from a page limit, as a full disk gives it) refuses the new
    readings with SpoolFullError; readings held stay, sequence numbers do not skip, and once
    there is room again storing goes on."""
    spool = Spool(tmp_path / "s.db", "gw-1")
    spool.store([sample("M1", 0, 100)])
    pages = int(spool._db.execute("PRAGMA page_count").fetchone()[0])
    spool._db.execute(f"PRAGMA max_page_count = {pages}")  # no page to grow into
    big = [sample("M1", 5 * i, 100 + i) for i in range(1, 400)]
    with capture_logs() as logs, pytest.raises(SpoolFullError, match="disk is full"):
        spool.store(big)
    assert [e["event"] for e in logs] == ["spool_disk_full"]
    assert spool.count() == 1
    assert spool.last_seq() == 1
    spool._db.execute("PRAGMA max_page_count = 1073741823")
    (stored,) = spool.store([sample("M1", 5 * 400, 500)])
    assert stored.seq == 2
    assert [seq for seq, _, _ in spool.pending(10)] == [1, 2]
    spool.close()
