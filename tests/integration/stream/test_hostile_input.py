"""Hostile input to the running stream (in-process engine, real PostgreSQL): each message is
refused with its reason, or stored, and no other site stops."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from stream.inprocess import InProcessEngine
from tests.support import register_fleet

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
T0 = NOW - timedelta(hours=2)


def reading(meter_id: str, minutes: int, wh: int, source: str, source_id: str) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    return {
        "meter_id": meter_id, "ts": at, "energy_wh": wh, "source": source,
        "source_id": source_id, "seq": minutes, "received_at": at,
    }  # fmt: skip


def message(readings: list[dict[str, Any]], source: str = "das", source_id: str = "das-a") -> bytes:
    batch = {
        "batch_id": uuid.uuid4().hex, "source": source, "source_id": source_id,
        "sent_at": NOW.isoformat(), "readings": readings,
    }  # fmt: skip
    return json.dumps(batch).encode()


def stored(db: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT meter_id, energy_wh, source FROM readings ORDER BY meter_id, ts"
        ).fetchall()


def dead(db: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT reason_code FROM dead_letters ORDER BY id").fetchall()


@pytest.mark.parametrize("source", ["manual", "audit"])
async def test_a_batch_claiming_a_manual_source_is_refused(fresh_db: str, source: str) -> None:
    """Manual and audit readings are entered in the portal, never sent: a batch on Kafka that
    claims either source (any gateway or provider can write one) is refused as not the
    meter's reporting party, instead of being stored as a representative's reading of any
    meter; the provider's own batch after it is stored."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["M1"], provider="das-a")
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        forged = await engine.submit(message([reading("M1", 0, 1_000, source, "rep-1")],
                                             source, "rep-1"))  # fmt: skip
        honest = await engine.submit(message([reading("M1", 15, 2_000, "das", "das-a")]))
    assert [(r.code.value, r.reason) for r in forged.rejects] == [
        (
            "provider_mismatch",
            f"{source} readings are not taken from a message: meter 'M1' is reported by "
            "'das-a'; a representative enters a manual reading in the portal",
        )
    ]
    assert (honest.new, stored(fresh_db), dead(fresh_db)) == (
        1,
        [("M1", 2_000, "das")],
        [("provider_mismatch",)],
    )


async def test_one_bad_reading_refuses_only_itself(fresh_db: str) -> None:
    """A batch of five readings, two of them malformed (a negative register, a meter id no
    registry can hold): the three good ones are stored, each bad one is a dead letter with
    its own reason and its own JSON as payload."""
    with psycopg.connect(fresh_db) as conn:
        register_fleet(conn, ["M1"], provider="das-a")
    readings = [reading("M1", 15 * i, 1_000 + i, "das", "das-a") for i in range(5)]
    readings[1]["energy_wh"] = -5
    readings[3]["meter_id"] = "M\u202e1"
    async with await InProcessEngine.connect(fresh_db, clock=lambda: NOW) as engine:
        outcome = await engine.submit(message(readings))
    with psycopg.connect(fresh_db) as conn:
        letters = conn.execute(
            "SELECT reason_code, reason, convert_from(payload, 'UTF8')::jsonb ->> 'seq' "
            "FROM dead_letters ORDER BY ordinal"
        ).fetchall()
    assert (outcome.new, len(outcome.rejects)) == (3, 2)
    assert [wh for _, wh, _ in stored(fresh_db)] == [1_000, 1_002, 1_004]
    assert letters == [
        (
            "negative_register",
            "not a valid reading: readings[1].energy_wh: Input should be greater than or "
            "equal to 0",
            "15",
        ),
        (
            "schema_invalid",
            "not a valid reading: readings[3].meter_id: String should match pattern "
            "'^[A-Za-z0-9][A-Za-z0-9._-]*$'",
            "45",
        ),
    ]
