"""Durable store-and-forward spool (SQLite, WAL, synchronous=FULL).

Every reading is written here, with its per-gateway sequence number, before it is published;
a row is deleted only after the broker acknowledged (PUBACK) the message that carried it.
Sequence numbers live in the same database and survive restarts and power loss, and so do
the heads of the meters' hash chains: each reading carries the hash of the gateway's previous
reading of its meter (`prev_hash`, schemas.envelope.reading_hash), given when it gets its seq.

Bounded by rows and by bytes of reading JSON (`max_rows`, `max_bytes`, whichever is reached
first; the file itself is larger by SQLite's overhead): at 80% of a bound a warning is logged;
when full, `add` refuses new readings
(SpoolFullError) and the agent keeps polling but does not store them. A disk that fills up
before either bound is the same refusal (SQLite's SQLITE_FULL), never a crash. No energy is lost by
that: registers are cumulative, so the next reading that fits still carries all the energy;
only the resolution between the last stored reading and it is lost, and the log says so.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import structlog

from gateways.errors import SpoolFullError
from gateways.sample import MeterSample, reading_from_sample
from schemas.envelope import reading_hash
from schemas.reading import Reading

log = structlog.get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY, meter_id TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', 0);
CREATE TABLE IF NOT EXISTS chain (meter_id TEXT PRIMARY KEY, head TEXT NOT NULL);
"""


def _disk_full(exc: sqlite3.OperationalError) -> bool:
    """SQLite's SQLITE_FULL: the disk (or the database's page limit) is full."""
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


class Spool:
    def __init__(
        self,
        path: Path,
        gateway_id: str,
        max_rows: int = 2_000_000,
        max_bytes: int = 1024**3,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # revenue data: survive power loss
        self._db.executescript(_SCHEMA)
        self.gateway_id = gateway_id
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._warned = False
        self._undeleted: list[int] = []  # delivered, but the disk was too full to delete
        row = self._db.execute("SELECT count(*), total(length(body)) FROM spool").fetchone()
        self._rows, self._bytes = int(row[0]), int(row[1])  # kept up to date by add and ack

    def count(self) -> int:
        return self._rows

    def size_bytes(self) -> int:
        """Size of the reading JSON held (characters; bytes for the ASCII ids PTS uses)."""
        return self._bytes

    def oldest_ts(self) -> datetime | None:
        """The reading time of the oldest reading held (None when empty)."""
        row = self._db.execute(
            "SELECT json_extract(body, '$.ts') FROM spool ORDER BY seq LIMIT 1"
        ).fetchone()
        return None if row is None else datetime.fromisoformat(str(row[0]))

    def last_seq(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        return int(row[0])

    def store(self, samples: Sequence[MeterSample]) -> list[Reading]:
        """Store samples as readings with the next sequence numbers; return the readings
        stored (each with its seq and chain link), or raise SpoolFullError storing none."""
        if not samples:
            return []
        first = self.last_seq() + 1
        # each meter's readings form a hash chain in sequence order (schemas.envelope)
        heads = self._chain_heads({s.meter_id for s in samples})
        readings = []
        for i, s in enumerate(samples):
            reading = reading_from_sample(
                s, self.gateway_id, first + i, prev_hash=heads.get(s.meter_id)
            )
            heads[s.meter_id] = reading_hash(reading).hex()
            readings.append(reading)
        rows = [(r.seq, r.meter_id, r.model_dump_json()) for r in readings]
        size = sum(len(body) for _, _, body in rows)  # characters, as SQLite's length() counts
        rows_after, bytes_after = self._rows + len(rows), self._bytes + size
        if rows_after > self.max_rows or bytes_after > self.max_bytes:
            log.error(
                "spool_full",
                held=self._rows,
                held_bytes=self._bytes,
                max_rows=self.max_rows,
                max_bytes=self.max_bytes,
                refused=len(rows),
            )
            raise SpoolFullError(
                f"spool holds {self._rows} of {self.max_rows} readings, {self._bytes} of "
                f"{self.max_bytes} bytes; {len(rows)} not stored (energy is not lost: the next "
                "stored reading carries the register forward)"
            )
        nearly = rows_after >= 0.8 * self.max_rows or bytes_after >= 0.8 * self.max_bytes
        if nearly and not self._warned:
            self._warned = True
            log.warning(
                "spool_nearly_full",
                held=rows_after,
                held_bytes=bytes_after,
                max_rows=self.max_rows,
                max_bytes=self.max_bytes,
            )
        try:
            with self._transaction():
                self._db.executemany(
                    "INSERT INTO spool (seq, meter_id, body) VALUES (?, ?, ?)", rows
                )
                self._db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'last_seq'", (first + len(rows) - 1,)
                )
                self._db.executemany(
                    "INSERT INTO chain (meter_id, head) VALUES (?, ?) "
                    "ON CONFLICT (meter_id) DO UPDATE SET head = excluded.head",
                    sorted(heads.items()),
                )
        except sqlite3.OperationalError as exc:
            if not _disk_full(exc):
                raise
            log.error("spool_disk_full", held=self._rows, refused=len(rows), error=str(exc))
            raise SpoolFullError(
                f"the spool's disk is full ({exc}); {len(rows)} readings not stored (energy "
                "is not lost: the next stored reading carries the register forward)"
            ) from exc
        self._rows, self._bytes = rows_after, bytes_after
        if not nearly:
            self._warned = False
        return readings

    def _chain_heads(self, meter_ids: set[str]) -> dict[str, str]:
        """The hash of each meter's last spooled reading (its chain's head), where known."""
        ids = sorted(meter_ids)
        found: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            found.update(
                self._db.execute(
                    f"SELECT meter_id, head FROM chain WHERE meter_id IN ({marks})", part
                ).fetchall()
            )
        return found

    def pending(self, limit: int, after: int = 0) -> list[tuple[int, str, str]]:
        """(seq, meter_id, reading JSON) oldest first, with seq > `after`."""
        return self._db.execute(
            "SELECT seq, meter_id, body FROM spool WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        ).fetchall()

    def rows(self, seqs: Sequence[int]) -> list[tuple[int, str, str]]:
        """(seq, meter_id, reading JSON) of those of `seqs` still held, in seq order."""
        found: list[tuple[int, str, str]] = []
        for start in range(0, len(seqs), 500):
            part = list(seqs[start : start + 500])
            marks = ",".join("?" * len(part))
            found += self._db.execute(
                f"SELECT seq, meter_id, body FROM spool WHERE seq IN ({marks})", part
            ).fetchall()
        return sorted(found)

    def ack(self, seqs: Sequence[int]) -> None:
        """Delete readings the broker delivered. On a full disk the deletion waits for the
        next call (a reading sent again meanwhile is a duplicate the stream recognises)."""
        todo = [*self._undeleted, *seqs]
        freed = rows = 0
        try:
            with self._transaction():
                for seq in todo:
                    row = self._db.execute(
                        "DELETE FROM spool WHERE seq = ? RETURNING length(body)", (seq,)
                    ).fetchone()
                    if row is not None:
                        rows, freed = rows + 1, freed + int(row[0])
        except sqlite3.OperationalError as exc:
            if not _disk_full(exc):
                raise
            log.error("spool_disk_full", deleting=len(todo), error=str(exc))
            self._undeleted = todo
            return
        self._undeleted = []
        self._rows -= rows
        self._bytes -= freed

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Tx:
        return _Tx(self._db)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:  # SQLite rolls back by itself on some errors (FULL)
            self._db.execute("ROLLBACK")
