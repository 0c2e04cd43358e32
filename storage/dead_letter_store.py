"""SQL for dead letters: the refusals of the bridge, the DAS intake and the stream, kept
with their reason code (schemas.reasons) and payload, and re-driven once their cause is fixed.

Idempotent: a dead letter from Kafka is keyed by its source (topic, partition, offset,
ordinal), so a redelivered record adds nothing. One problem, one row (migration 022): while a
dead letter waits, the same refusal (origin, reason code, payload digest) from another
position — the same message put on Kafka twice — is recorded as a copy of it in
`dead_letter_copies`, so it is counted and re-driven once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import psycopg

# (reason_code, reason, payload, ordinal, sha256 of the whole payload, its size): the last two
# only when `payload` is a prefix of a larger original (None otherwise)
DeadLetterRow = tuple[str, str, bytes, int, str | None, int | None]
MAX_REASON_CHARS = 2_000  # a reason quoting an exception is cut here
_DEAD_LETTER = """
INSERT INTO dead_letters (reason_code, reason, payload, ordinal, source_topic, source_partition,
                          source_offset, payload_sha256, payload_bytes, origin)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
RETURNING id
"""
# a refusal not recorded as a row: a copy of the waiting dead letter with its digest, unless it
# is that letter's own position again (a redelivered record)
_COPY = """
INSERT INTO dead_letter_copies (dead_letter_id, ordinal, source_topic, source_partition,
                                source_offset)
SELECT d.id, %(ordinal)s, %(topic)s, %(partition)s, %(offset)s
FROM dead_letters d
WHERE d.origin = %(origin)s AND d.reason_code = %(code)s AND d.payload_digest = %(digest)s
  AND d.redriven_at IS NULL AND d.origin <> 'redrive'
  AND d.source_topic IS DISTINCT FROM 'redrive' AND %(topic)s::text IS DISTINCT FROM 'redrive'
  AND (%(offset)s::bigint IS NULL
       OR (d.source_topic, d.source_partition, d.source_offset, d.ordinal)
          IS DISTINCT FROM (%(topic)s, %(partition)s, %(offset)s, %(ordinal)s))
ON CONFLICT DO NOTHING
"""


async def record_dead_letters(
    aconn: psycopg.AsyncConnection[Any],
    rows: Iterable[DeadLetterRow],
    topic: str | None,
    partition: int | None,
    offset: int | None,
    origin: str = "stream",
) -> None:
    """Store rejects; a redelivered Kafka message (same topic/partition/offset) adds nothing,
    a copy of a waiting dead letter from another position is linked to it (module docstring).

    A reason is stored printable and bounded: NUL (which PostgreSQL text cannot hold) is
    written as \\x00 and it is cut at MAX_REASON_CHARS.
    """
    rows = list(rows)
    if not rows:
        return
    async with aconn.cursor() as cur:
        await cur.executemany(
            _DEAD_LETTER,
            [
                (
                    code,
                    printable_reason(reason),
                    payload,
                    n,
                    topic,
                    partition,
                    offset,
                    sha256,
                    size,
                    origin,
                )
                for code, reason, payload, n, sha256, size in rows
            ],
            returning=True,
        )
        stored = []
        while True:
            stored.append(await cur.fetchone() is not None)
            if not cur.nextset():
                break
        copies = [
            {
                "ordinal": n,
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "origin": origin,
                "code": code,
                "digest": sha256 or hashlib.sha256(payload).hexdigest(),
            }
            for (code, _, payload, n, sha256, _), new in zip(rows, stored, strict=True)
            if not new
        ]
        if copies:
            await cur.executemany(_COPY, copies)


def printable_reason(reason: str) -> str:
    """A reason PostgreSQL text can hold, at most MAX_REASON_CHARS long."""
    text = reason.replace("\x00", "\\x00")
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


async def dead_letters_to_redrive(
    aconn: psycopg.AsyncConnection[Any], reason_code: str, limit: int
) -> list[tuple[int, bytes, str]]:
    """(id, payload, reason) of dead letters with this reason not re-driven yet, oldest
    first: the stream's, and the bridge's `topic_invalid` (a batch the bridge could not
    route). The DAS intake's hold report rows, not readings: they wait for the provider."""
    cur = await aconn.execute(
        "SELECT id, payload, reason FROM dead_letters WHERE reason_code = %s "
        "AND redriven_at IS NULL "
        "AND (origin = 'stream' OR (origin = 'bridge' AND reason_code = 'topic_invalid')) "
        "ORDER BY id LIMIT %s",
        (reason_code, limit),
    )
    return [(int(r[0]), bytes(r[1]), str(r[2])) for r in await cur.fetchall()]


async def mark_redriven(
    aconn: psycopg.AsyncConnection[Any], dead_letter_id: int, result: str
) -> None:
    """Record that a dead letter was re-driven, and what became of it."""
    await aconn.execute(
        "UPDATE dead_letters SET redriven_at = now(), redrive_result = %s WHERE id = %s",
        (result, dead_letter_id),
    )
