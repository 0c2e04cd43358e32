"""Retention of batch receipts (storage.receipt_retention, `pts db prune-receipts`): a receipt
goes only when every local month it covers is settled (closed the margin ago, not held unless
released) and it was received the margin ago; after it goes, a redelivery is still stored
once and a replay with old sequence numbers is still recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from pts.cli import cli
from schemas.reading import Reading, ReadingBatch, Source
from storage.receipt_retention import Pruned, cutoff, prune_batch_receipts
from stream.inprocess import InProcessEngine
from tests.support import register_fleet

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 15, tzinfo=UTC)
DAYS = 30  # cutoff: 2026-05-16 00:00Z
MARCH = datetime(2026, 3, 10, 15, tzinfo=UTC)
RECEIVED = datetime(2026, 3, 20, tzinfo=UTC)
CLOSED = datetime(2026, 4, 6, tzinfo=UTC)


def receipt(
    conn: psycopg.Connection[Any],
    meter_id: str,
    first_ts: datetime,
    last_ts: datetime,
    received_at: datetime = RECEIVED,
) -> None:
    conn.execute(
        "INSERT INTO batch_receipts (source_id, batch_id, meter_id, first_seq, last_seq, "
        "readings, digest, first_ts, last_ts, received_at) "
        "VALUES ('das-a', %s, %s, 1, 4, 4, 'd', %s, %s, %s)",
        (f"b-{meter_id}-{first_ts:%m%d%H}", meter_id, first_ts, last_ts, received_at),
    )


def close(
    conn: psycopg.Connection[Any],
    meter_id: str,
    month: str,
    closed_at: datetime = CLOSED,
    held_by: tuple[str, ...] = (),
) -> None:
    conn.execute(
        "INSERT INTO month_closes (system_id, month, energy_wh, estimated, closed_by, "
        "closed_at, held_by) VALUES (%s, %s, 0, false, 'staff', %s, %s)",
        (f"S-{meter_id}", month, closed_at, list(held_by)),
    )


def remaining(db: str) -> list[tuple[str, str]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT meter_id, to_char(first_ts AT TIME ZONE 'UTC', 'MM-DD HH24') "
            "FROM batch_receipts ORDER BY 1, 2"
        ).fetchall()
    return [(str(m), str(t)) for m, t in rows]


def fleet_with_receipts(db: str) -> None:
    """Eight receipts (systems in New York); two may go: A's March one and D's (released)."""
    with psycopg.connect(db, autocommit=True) as conn:
        register_fleet(conn, ["A", "B", "C", "D", "E", "F"])
        hour = timedelta(hours=1)
        receipt(conn, "A", MARCH, MARCH + hour)  # March, closed on Apr 6: goes
        # Feb 28 22:00 New York is Mar 1 03:00Z: it covers February (local), not closed
        receipt(conn, "A", datetime(2026, 3, 1, 3, tzinfo=UTC), datetime(2026, 3, 1, 6, tzinfo=UTC))
        close(conn, "A", "2026-03")
        receipt(conn, "B", MARCH, MARCH + hour)  # closed on May 20: within the margin
        close(conn, "B", "2026-03", closed_at=datetime(2026, 5, 20, tzinfo=UTC))
        receipt(conn, "C", MARCH, MARCH + hour)  # held, not released
        close(conn, "C", "2026-03", held_by=("over_capacity",))
        receipt(conn, "D", MARCH, MARCH + hour)  # held, then accepted as reported: goes
        close(conn, "D", "2026-03", held_by=("over_capacity",))
        conn.execute(
            "INSERT INTO month_releases (system_id, month, kind, energy_wh, reason, "
            "released_by, released_at) VALUES ('S-D', '2026-03', 'accepted_as_reported', 0, "
            "'checked on site', 'staff', '2026-04-10Z')"
        )
        # a late delivery into a settled month: received within the margin
        receipt(conn, "E", MARCH, MARCH + hour, received_at=datetime(2026, 6, 1, tzinfo=UTC))
        close(conn, "E", "2026-03")
        receipt(conn, "F", datetime(2026, 4, 10, tzinfo=UTC), datetime(2026, 4, 11, tzinfo=UTC))
        close(conn, "F", "2026-03")  # April is open
        receipt(conn, "X", MARCH, MARCH + hour)  # a meter nobody registered


KEPT = [
    ("A", "03-01 03"),
    ("B", "03-10 15"),
    ("C", "03-10 15"),
    ("E", "03-10 15"),
    ("F", "04-10 00"),
    ("X", "03-10 15"),
]


def test_only_receipts_of_settled_months_go(fresh_db: str) -> None:
    """A dry run counts them; the prune (one row per transaction here) removes exactly those
    two; a second prune removes nothing."""
    fleet_with_receipts(fresh_db)
    limit = datetime(2026, 5, 16, tzinfo=UTC)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        dry = prune_batch_receipts(conn, NOW, DAYS, dry_run=True)
        before = remaining(fresh_db)
        done = prune_batch_receipts(conn, NOW, DAYS, chunk=1)
        again = prune_batch_receipts(conn, NOW, DAYS)
    assert (dry, len(before)) == (Pruned(2, 6, limit), 8)
    assert (done, again) == (Pruned(2, 6, limit), Pruned(0, 6, limit))
    assert remaining(fresh_db) == KEPT
    with pytest.raises(ValueError, match="retention of 0 days: give at least 1 day"):
        cutoff(NOW, 0)


def test_prune_receipts_command_takes_the_margin_from_settings(fresh_db: str) -> None:
    """`pts db prune-receipts` with PTS_BATCH_RECEIPT_RETENTION_DAYS; a margin of 20 days
    also lets B go (closed May 20, cutoff May 26)."""
    fleet_with_receipts(fresh_db)
    env = {"PTS_DATABASE_URL": fresh_db, "PTS_BATCH_RECEIPT_RETENTION_DAYS": "20"}
    now = ["--now", "2026-06-15T00:00:00Z"]
    runner = CliRunner()
    dry = runner.invoke(cli, ["db", "prune-receipts", "--dry-run", *now], env=env)
    done = runner.invoke(cli, ["db", "prune-receipts", *now], env=env)
    assert (dry.exit_code, dry.output) == (
        0,
        "3 batch receipts would be removed (months settled before 2026-05-26T00:00:00+00:00), "
        "5 kept\n",
    )
    assert (done.exit_code, done.output) == (
        0,
        "3 batch receipts removed (months settled before 2026-05-26T00:00:00+00:00), 5 kept\n",
    )
    assert remaining(fresh_db) == [k for k in KEPT if k[0] != "B"]


T0 = datetime(2026, 3, 10, 15, tzinfo=UTC)


def batch(batch_id: str, minutes_and_seqs: list[tuple[int, int]]) -> bytes:
    readings = tuple(
        Reading(
            meter_id="A", ts=T0 + timedelta(minutes=m), energy_wh=1_000 + 10 * m,
            source=Source.DAS, source_id="das-a", seq=seq, received_at=T0 + timedelta(minutes=m),
        )
        for m, seq in minutes_and_seqs
    )  # fmt: skip
    return (
        ReadingBatch(
            batch_id=batch_id, source=Source.DAS, source_id="das-a",
            sent_at=datetime(2026, 4, 2, tzinfo=UTC), readings=readings,
        )
        .model_dump_json()
        .encode()
    )  # fmt: skip


async def test_after_a_prune_a_replay_is_still_seen_and_a_redelivery_stored_once(
    fresh_db: str,
) -> None:
    """Batch b-1 is stored, March closed, its receipt pruned. b-1's sequence numbers then come
    back with later times: stored (raw data is kept) and recorded as a sequence anomaly,
    though no receipt was left to name the batch id. Then b-1 comes again as first sent:
    nothing new (3 duplicates), and since the replay left its own receipt, the id seen with
    other readings is a batch_id_reused finding."""
    first = batch("b-1", [(0, 1), (15, 2), (30, 3)])
    replay = batch("b-1", [(60, 1), (75, 2), (90, 3)])
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        register_fleet(conn, ["A"])
    clock = datetime(2026, 4, 2, tzinfo=UTC)
    async with await InProcessEngine.connect(fresh_db, clock=lambda: clock) as engine:
        stored = await engine.submit(first)
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            close(conn, "A", "2026-03")
            # receipts carry the database's clock: prune "now" is well after it
            later = datetime.now(UTC) + timedelta(days=DAYS + 1)
            pruned = prune_batch_receipts(conn, later, DAYS)
        replayed = await engine.submit(replay)
        with psycopg.connect(fresh_db) as conn:
            findings_after_replay = conn.execute("SELECT count(*) FROM provenance_findings")
            after_replay = findings_after_replay.fetchone()
        again = await engine.submit(first)
    with psycopg.connect(fresh_db) as conn:
        anomalies = conn.execute(
            "SELECT meter_id, ts, seq, previous_ts, previous_seq FROM reading_sequence_anomalies"
        ).fetchall()
        findings = conn.execute(
            "SELECT kind, batch_id, meter_id, first_ts, last_ts FROM provenance_findings"
        ).fetchall()
    assert (stored.new, pruned.removed, after_replay) == (3, 1, (0,))
    assert (replayed.new, replayed.rejects) == (3, [])
    assert anomalies == [("A", T0 + timedelta(minutes=60), 1, T0 + timedelta(minutes=30), 3)]
    assert (again.new, again.duplicate) == (0, 3)
    assert findings == [("batch_id_reused", "b-1", "A", T0, T0 + timedelta(minutes=30))]
