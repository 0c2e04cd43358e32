"""The in-process engine on the real PostgreSQL verifies signed batches (migration 013)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from storage import provenance_store, registry_store
from stream.inprocess import InProcessEngine
from tests.provenance_support import T0, chained, new_signer, registered, signed_payload
from tests.support import register_fleet

pytestmark = pytest.mark.integration

NOW = T0 + timedelta(hours=2)
SIGNER = new_signer()


def setup(url: str, *, signed: bool = True, revoked: bool = False) -> None:
    with psycopg.connect(url) as conn:
        register_fleet(conn, ["M1"], provider="gw-1")
        if signed:
            meter = registry_store.get_meter(conn, "M1")
            assert meter is not None
            registry_store.upsert(conn, [meter.model_copy(update={"signed": True})])
        provenance_store.add_key(conn, registered(SIGNER, "gw-1"))
        if revoked:
            provenance_store.revoke_key(conn, SIGNER.key_id, T0 + timedelta(hours=1), "stolen")


def stored(url: str) -> tuple[int, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        readings = conn.execute("SELECT count(*) FROM readings").fetchone()
        dead = conn.execute("SELECT reason_code, reason FROM dead_letters ORDER BY id").fetchall()
        findings = conn.execute(
            "SELECT kind, batch_id, meter_id FROM provenance_findings ORDER BY id"
        ).fetchall()
    assert readings is not None
    return int(readings[0]), dead, findings


async def test_signed_batch_stored_with_its_receipt_and_a_replay_changes_nothing(
    fresh_db: str,
) -> None:
    """A signed batch is stored with its receipt; the same batch again is a replayed_batch
    finding and the readings are unchanged."""
    setup(fresh_db)
    payload = signed_payload(chained("M1", "gw-1", 4), SIGNER, batch_id="b-1")
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as eng:
        first = await eng.submit(payload, key=b"M1")
        again = await eng.submit(payload, key=b"M1")
    assert (first.new, again.new, again.duplicate) == (4, 0, 4)
    assert stored(fresh_db) == (4, [], [("replayed_batch", "b-1", "M1")])
    with psycopg.connect(fresh_db) as conn:
        [batch] = provenance_store.batches_of(conn, "M1", T0, NOW)
    assert (batch.batch_id, batch.key_id, batch.seqs) == ("b-1", SIGNER.key_id, [1, 2, 3, 4])


async def test_unsigned_and_revoked_batches_of_a_signed_meter_are_dead_letters(
    fresh_db: str,
) -> None:
    """Unsigned, and signed by a key revoked before the check: both refused with reasons."""
    setup(fresh_db, revoked=True)
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as eng:
        await eng.submit(signed_payload(chained("M1", "gw-1", 2), None), key=b"M1")
        await eng.submit(signed_payload(chained("M1", "gw-1", 2, start=2), SIGNER), key=b"M1")
    count, dead, _ = stored(fresh_db)
    assert count == 0
    assert [code for code, _ in dead] == ["unsigned_batch", "key_revoked"]
    assert "revoked at 2026-03-10T16:00:00+00:00 (stolen)" in dead[1][1]
