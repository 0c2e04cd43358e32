"""Provenance rows (migration 013): signing keys, signed batches, findings.

Receipts of signed batches are written by the stream in the transaction that writes their
readings (stream.persist); a batch whose (source_id, batch_id) is already stored is a batch
received again: it changes nothing and becomes a `replayed_batch` finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from schemas.signing_keys import SigningKey

_KEY_COLUMNS = (
    "signer, signer_id, key_id, public_key, valid_from, valid_until, revoked_at, revoked_reason"
)


def _key(row: dict[str, Any]) -> SigningKey:
    return SigningKey.model_validate(row)


async def load_keys(aconn: psycopg.AsyncConnection[Any]) -> list[SigningKey]:
    async with aconn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_KEY_COLUMNS} FROM signing_keys")
        return [_key(r) for r in await cur.fetchall()]


async def load_signed_meters(aconn: psycopg.AsyncConnection[Any]) -> list[str]:
    cur = await aconn.execute("SELECT meter_id FROM meters WHERE signed")
    return [r[0] for r in await cur.fetchall()]


def keys_of(conn: psycopg.Connection[Any], signer_id: str | None = None) -> list[SigningKey]:
    where = "" if signer_id is None else "WHERE signer_id = %s"
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_KEY_COLUMNS} FROM signing_keys {where} ORDER BY signer_id, valid_from",
            () if signer_id is None else (signer_id,),
        )
        return [_key(r) for r in cur.fetchall()]


def add_key(conn: psycopg.Connection[Any], key: SigningKey) -> None:
    """Register a key; a key already registered is left as it is (same id, same key)."""
    conn.execute(
        f"INSERT INTO signing_keys ({_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (key_id) DO NOTHING",
        (
            key.signer.value, key.signer_id, key.key_id, key.public_key, key.valid_from,
            key.valid_until, key.revoked_at, key.revoked_reason,
        ),
    )  # fmt: skip


def retire_key(conn: psycopg.Connection[Any], key_id: str, valid_until: datetime) -> bool:
    """End a key's validity (rotation); False when no such key."""
    cur = conn.execute(
        "UPDATE signing_keys SET valid_until = %s WHERE key_id = %s", (valid_until, key_id)
    )
    return cur.rowcount == 1


def revoke_key(conn: psycopg.Connection[Any], key_id: str, at: datetime, reason: str) -> bool:
    """Revoke a key (compromise): from `at` on nothing it signs is accepted."""
    cur = conn.execute(
        "UPDATE signing_keys SET revoked_at = %s, revoked_reason = %s WHERE key_id = %s",
        (at, reason, key_id),
    )
    return cur.rowcount == 1


ReceiptRow = tuple[
    str, str, str, str, str, datetime, bytes, datetime, datetime,
    list[datetime], list[int], list[str | None], list[bytes],
]  # fmt: skip

_RECORD = """
INSERT INTO signed_batches (source, source_id, batch_id, meter_id, key_id, sent_at, signature,
    first_ts, last_ts, ts, seqs, prev_hashes, hashes)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (source_id, batch_id) DO NOTHING
RETURNING batch_id
"""
_REPLAYED = """
INSERT INTO provenance_findings (kind, source_id, batch_id, meter_id, first_ts, last_ts, detail)
VALUES ('replayed_batch', %s, %s, %s, %s, %s, %s)
"""


async def record_receipts(aconn: psycopg.AsyncConnection[Any], rows: Sequence[ReceiptRow]) -> int:
    """Store the receipts of verified batches; a batch already stored becomes a
    `replayed_batch` finding. Returns how many were replays."""
    replays = 0
    async with aconn.cursor() as cur:
        for row in rows:
            await cur.execute(_RECORD, row)
            if await cur.fetchone() is None:
                replays += 1
                _, source_id, batch_id, meter_id, _, sent_at, *_ = row
                await cur.execute(
                    _REPLAYED,
                    (
                        source_id, batch_id, meter_id, row[7], row[8],
                        f"batch {batch_id} of {source_id} (sent {sent_at.isoformat()}) was "
                        "received again; nothing changed (a replay, or a redelivery)",
                    ),
                )  # fmt: skip
    return replays


@dataclass(frozen=True, slots=True)
class StoredBatch:
    source_id: str
    batch_id: str
    meter_id: str
    key_id: str
    sent_at: datetime
    signature: bytes
    ts: list[datetime]
    seqs: list[int]
    prev_hashes: list[str | None]
    hashes: list[bytes]
    received_at: datetime


def batches_of(
    conn: psycopg.Connection[Any], meter_id: str, since: datetime, until: datetime
) -> list[StoredBatch]:
    """The signed batches of a meter with a reading in [since, until], oldest first."""
    rows = conn.execute(
        "SELECT source_id, batch_id, meter_id, key_id, sent_at, signature, ts, seqs, "
        "prev_hashes, hashes, received_at FROM signed_batches "
        "WHERE meter_id = %s AND first_ts <= %s AND last_ts >= %s ORDER BY first_ts, batch_id",
        (meter_id, until, since),
    ).fetchall()
    return [
        StoredBatch(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), list(r[6]), list(r[7]),
                    list(r[8]), [bytes(h) for h in r[9]], r[10])
        for r in rows
    ]  # fmt: skip


def findings_of(
    conn: psycopg.Connection[Any], meter_id: str, since: datetime, until: datetime
) -> list[tuple[str, str, str | None, str]]:
    """(kind, source_id, batch_id, detail) of the findings about a meter in [since, until]."""
    rows = conn.execute(
        "SELECT kind, source_id, batch_id, detail FROM provenance_findings "
        "WHERE meter_id = %s AND first_ts <= %s AND last_ts >= %s ORDER BY id",
        (meter_id, until, since),
    ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


ReadingFieldsRow = tuple[
    str, datetime, int, str, str, int, datetime, int | None, int | None, list[int]
]


def readings_between(
    conn: psycopg.Connection[Any], meter_id: str, since: datetime, until: datetime
) -> list[ReadingFieldsRow]:
    """(meter_id, ts, energy_wh, source, source_id, seq, received_at, unit_id, scale_factor,
    raw_words) of a meter's readings in force in [since, until] (migration 020: a withdrawn
    manual reading is not, a corrected one has its corrected value), in time order."""
    rows = conn.execute(
        "SELECT meter_id, ts, energy_wh, source, source_id, seq, received_at, unit_id, "
        "scale_factor, raw_words FROM readings_in_force "
        "WHERE meter_id = %s AND ts BETWEEN %s AND %s "
        "ORDER BY ts",
        (meter_id, since, until),
    ).fetchall()
    return [
        (r[0], r[1], int(r[2]), r[3], r[4], int(r[5]), r[6], r[7], r[8], list(r[9] or []))
        for r in rows
    ]


def manual_entries(
    conn: psycopg.Connection[Any], meter_id: str, since: datetime, until: datetime
) -> dict[datetime, tuple[str | None, str]]:
    """{ts: (photo_ref, submitted_by)} of a meter's manual reports in [since, until]."""
    rows = conn.execute(
        "SELECT ts, photo_ref, submitted_by FROM manual_reports "
        "WHERE meter_id = %s AND ts BETWEEN %s AND %s",
        (meter_id, since, until),
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}
