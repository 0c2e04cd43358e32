"""Expected failures reach the user as one clear line and a hint, never a traceback: a
database or broker that is down, a migration that fails, unreadable settings."""

from __future__ import annotations

import socket
import subprocess
import sys

from aiokafka.errors import KafkaConnectionError

from pts.failures import explain
from storage.errors import MigrationError


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def pts(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pts.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**env, "PATH": "/usr/bin:/bin"},
    )


def test_database_down_is_one_line_and_a_hint() -> None:
    """`pts db info` against a closed port: exit 1, the cause and what to do, no traceback."""
    url = f"postgresql://pts@127.0.0.1:{closed_port()}/pts"
    result = pts("db", "info", env={"PTS_DATABASE_URL": url})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: cannot reach PostgreSQL: connection failed")
    assert lines[-1] == (
        "hint: start the local services (`make services-up`) or point PTS_DATABASE_URL at "
        "the running server"
    )


def test_a_failed_migration_is_explained() -> None:
    """A MigrationError says which migration failed and how to look closer."""
    explained = explain(MigrationError("007_month_holds.sql failed: syntax error"))
    assert explained is not None
    message, hint = explained
    assert message == "migration failed: 007_month_holds.sql failed: syntax error"
    assert hint.startswith("fix the cause, then run `pts db migrate` again")


def test_kafka_down_is_explained() -> None:
    """A broker that cannot be reached names the bootstrap setting."""
    explained = explain(KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]"))
    assert explained is not None
    message, hint = explained
    assert message.startswith("cannot reach Kafka: ")
    assert "PTS_KAFKA_BOOTSTRAP" in hint


def test_a_bug_is_not_explained_away() -> None:
    """An unexpected exception is not an expected failure: it keeps its traceback."""
    assert explain(ZeroDivisionError("division by zero")) is None
