"""`pts web serve` as an operator runs it: its own process, the configured database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from tests.integration.web.support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]


def test_pts_web_serve(seeded_db: str) -> None:
    port = free_port()
    pts = Path(sys.executable).parent / "pts"
    command = [str(pts) if pts.exists() else "pts", "web", "serve", "--port", str(port)]
    env = {**os.environ, "PTS_DATABASE_URL": seeded_db}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert server.poll() is None, "pts web serve exited"
            assert time.monotonic() < deadline, "pts web serve did not answer in 60 s"
            time.sleep(0.2)
        assert httpx2.get(f"{base}/signin").status_code == 200
        assert httpx2.get(f"{base}/api/v1/me").json()["code"] == "sign_in_required"
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert out.decode().startswith(f"PTS web on http://127.0.0.1:{port}/")
