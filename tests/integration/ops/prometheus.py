"""A real Prometheus (Debian's `prometheus`) for one test: scrapes given targets every second,
loads the project's alert rules, answers instant queries over its HTTP API."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.integration.ingest.support import free_port

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus" / "pts-alerts.yml"


class OwnPrometheus:
    """Scrapes and evaluates the rules `every` (a Prometheus duration: "1s", "500ms")."""

    def __init__(self, folder: Path, targets: dict[str, list[str]], every: str = "1s") -> None:
        binary = shutil.which("prometheus")
        assert binary, (
            "prometheus is not installed (Debian package `prometheus`; .ci/run installs it)"
        )
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        jobs = "".join(
            f"  - job_name: {job}\n    static_configs:\n      - targets: {json.dumps(addrs)}\n"
            for job, addrs in targets.items()
        )
        config = folder / "prometheus.yml"
        config.write_text(
            f"global:\n  scrape_interval: {every}\n  evaluation_interval: {every}\n"
            f"rule_files:\n  - {RULES}\n"
            f"scrape_configs:\n{jobs}"
        )
        self.log = (folder / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.folder = folder

    def _get(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())

    def query(self, expr: str) -> dict[str, float]:
        """Instant query: the value of each series, keyed by its gateway_id (or job) label."""
        data = self._get("/api/v1/query", query=expr)["data"]["result"]
        return {
            str(r["metric"].get("gateway_id", r["metric"].get("job", ""))): float(r["value"][1])
            for r in data
        }

    def wait_for(self, expr: str, expected: dict[str, float], timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        last: dict[str, float] | Exception = {}
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.folder / "prometheus.log").read_text()
            try:
                last = self.query(expr)
                if last == expected:
                    return
            except OSError as exc:  # not listening yet
                last = exc
            time.sleep(0.3)
        raise AssertionError(f"{expr}: {last!r} != {expected!r}")

    def alerts(self, name: str) -> list[dict[str, Any]]:
        """The active alerts named `name` (pending or firing) from /api/v1/alerts."""
        found = self._get("/api/v1/alerts")["data"]["alerts"]
        return [a for a in found if a["labels"].get("alertname") == name]

    def rule_groups(self) -> list[str]:
        groups = self._get("/api/v1/rules")["data"]["groups"]
        return [str(g["name"]) for g in groups]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)
        self.log.close()
