"""Read a process's /metrics the way Prometheus does (its text format, parsed)."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def wait_scrape(port: int, check: Callable[[Samples], bool], within_s: float = 60) -> Samples:
    """Scrape until `check` holds (or fail with the last scrape)."""
    deadline = time.monotonic() + within_s
    last: Samples = {}
    while time.monotonic() < deadline:
        try:
            last = scrape(port)
            if check(last):
                return last
        except OSError:
            pass  # not serving yet
        time.sleep(0.5)
    raise AssertionError(f"metrics never matched; last scrape: {last}")
