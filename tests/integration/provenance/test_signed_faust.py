"""The Faust worker (`pts stream worker` on the real Kafka) verifies signed batches too."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from storage import provenance_store, registry_store
from tests.integration.stream.kafka_support import produce, wait_all_committed
from tests.integration.stream.test_faust import Fleet, fleet, topics
from tests.provenance_support import T0, chained, new_signer, registered, signed_payload
from tests.support import register_fleet

__all__ = ["fleet", "topics"]  # the Faust tests' fixtures, used here

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]

SIGNER = new_signer()


async def test_the_worker_stores_signed_batches_and_refuses_unsigned_ones(fleet: Fleet) -> None:
    """Signed batches of a signed meter are stored with their receipts, one sent twice is a
    replayed_batch finding, an unsigned one is a dead letter `unsigned_batch`."""
    with psycopg.connect(fleet.db) as conn:
        register_fleet(conn, ["F1"], provider="gw-1")
        meter = registry_store.get_meter(conn, "F1")
        assert meter is not None
        registry_store.upsert(conn, [meter.model_copy(update={"signed": True})])
        provenance_store.add_key(conn, registered(SIGNER, "gw-1", valid_from=T0 - timedelta(1)))
    readings = chained("F1", "gw-1", 30)
    signed = [signed_payload(readings[i : i + 10], SIGNER, batch_id=f"f-{i}") for i in (0, 10)]
    unsigned = signed_payload(readings[20:], None, batch_id="f-20")
    worker = fleet.start("w1")
    sent = await produce(
        fleet.bootstrap, fleet.raw, [(b"F1", p) for p in [*signed, signed[0], unsigned]]
    )
    await wait_all_committed(fleet.bootstrap, fleet.group, fleet.raw, 120, [worker])
    assert sent == 4
    with psycopg.connect(fleet.db) as conn:
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
        batches = conn.execute("SELECT batch_id FROM signed_batches ORDER BY 1").fetchall()
        findings = conn.execute("SELECT kind, batch_id FROM provenance_findings").fetchall()
        dead = conn.execute("SELECT reason_code FROM dead_letters").fetchall()
    assert stored == (20,)
    assert batches == [("f-0",), ("f-10",)]
    assert findings == [("replayed_batch", "f-0")]
    assert dead == [("unsigned_batch",)]
