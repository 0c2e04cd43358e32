"""Migration 022 on a database that already holds dead letters: copies stored as rows of
their own (a message that reached Kafka twice) are linked to the first and stop waiting; a
distinct message, a re-driven letter and a re-drive's own refusal are left as they were."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from storage import migrate

pytestmark = pytest.mark.integration


@pytest.fixture
def database(pg_admin_url: str) -> Iterator[str]:
    name = f"pts_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_dead_letters_stored_twice_before_022_become_one_with_a_copy(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in migrate.MIGRATIONS_DIR.glob("*.sql"):
        if path.name[:3] < "022":
            shutil.copy(path, tmp_path / path.name)
    real = migrate.discover
    monkeypatch.setattr(migrate, "discover", lambda: real(tmp_path))
    migrate.migrate(database, "plain")
    rows = [  # (payload, offset, source_topic, redriven)
        (b"twice", 5, "readings.raw", False),
        (b"twice", 9, "readings.raw", False),  # the copy
        (b"other", 12, "readings.raw", False),
        (b"done", 13, "readings.raw", True),
        (b"done", 14, "readings.raw", False),  # arrived after the first was re-driven
        (b"again", 1, "redrive", False),  # a re-drive's own refusals
        (b"again", 2, "redrive", False),
    ]
    with psycopg.connect(database, autocommit=True) as conn:
        for payload, offset, topic, redriven in rows:
            conn.execute(
                "INSERT INTO dead_letters (reason_code, reason, payload, source_topic, "
                "source_partition, source_offset, redriven_at) "
                "VALUES ('unknown_meter', 'not registered', %s, %s, 0, %s, "
                "CASE WHEN %s THEN now() END)",
                (payload, topic, offset, redriven),
            )
    monkeypatch.setattr(migrate, "discover", real)
    migrate.migrate(database)
    with psycopg.connect(database) as conn:
        got = conn.execute(
            "SELECT d.id, convert_from(l.payload, 'UTF8'), d.copies, d.redriven_at IS NOT NULL, "
            "d.redrive_result FROM analyst_dead_letters d "
            "JOIN dead_letters l USING (id) ORDER BY d.id"
        ).fetchall()
    assert [g[1:] for g in got] == [
        ("twice", 2, False, None),
        ("twice", 1, True, f"copy of {got[0][0]}"),
        ("other", 1, False, None),
        ("done", 1, True, None),
        ("done", 1, False, None),
        ("again", 1, False, None),
        ("again", 1, False, None),
    ]
