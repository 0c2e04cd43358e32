"""The embedded default's private PostgreSQL: starts from the project's own code, reuses itself."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from storage.embedded import EmbeddedPostgres, EmbeddedPostgresError, find_bindir

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder the server's system user can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="pts-embedded-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_start_reuse_stop(open_dir: Path) -> None:
    """A first start initialises the cluster; a second start finds it running and reuses it."""
    pg = EmbeddedPostgres(open_dir / "pg", free_port(), find_bindir())
    try:
        url = pg.start()
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE kept (x int)")
            conn.execute("INSERT INTO kept VALUES (42)")
        assert pg.start() == url
        pg.stop()
        assert not pg.running()
        pg.start()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT x FROM kept").fetchall() == [(42,)]
    finally:
        pg.stop()


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    """A port held by another program is refused with what to do about it."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        pg = EmbeddedPostgres(tmp_path / "pg", port, find_bindir())
        with pytest.raises(EmbeddedPostgresError, match=f"port {port} is taken"):
            pg.start()
