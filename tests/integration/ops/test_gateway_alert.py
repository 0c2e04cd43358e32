"""A gateway process is stopped and the real Prometheus (Debian's `prometheus`), evaluating the
project's own rules file, raises PtsGatewaySilent: absent while the gateway polls, pending
once two poll intervals passed without a poll, firing after the rule's `for:`.

The rule's threshold is the gateway's own exported poll interval, so a gateway polling every
two seconds makes the test fast without touching the production rule. Prometheus scrapes and
evaluates every half second: what it sees of the last poll is up to one poll interval plus
one scrape old (2.5 s) against the rule's two intervals (4 s). Scraped every second a
gateway polling every second was seen up to 2 s after its last poll, at the rule's edge: a
poll late by a few milliseconds raised the alert while the gateway ran."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import yaml

from gateways.clock import SimulatedClock
from gateways.simulator.fleet import make_fleet
from tests.integration.gateways.support import Recorder, gateway_config
from tests.integration.ingest.support import free_port
from tests.integration.ops.prometheus import ROOT, RULES, OwnPrometheus

pytestmark = pytest.mark.integration

ALERT = "PtsGatewaySilent"
INTERVAL_S = 2
EVERY = "500ms"  # Prometheus scrape and evaluation interval


def rule_hold_s(name: str) -> float:
    """The `for:` of alert `name` in the project's rules file, in seconds (0 without one)."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rule = next(r for g in groups for r in g["rules"] if r.get("alert") == name)
    units = {"s": 1, "m": 60, "h": 3600}
    return float(
        sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", rule.get("for", "")))
    )


def start_gateway(config: Path, log: BinaryIO) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from pts.cli import main; main()", "gateway", "run",
         "--config", str(config)],
        cwd=ROOT, env=dict(os.environ, PTS_LOG_FORMAT="json"),
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_until(what: str, check: Any, within_s: float, every_s: float = 0.25) -> Any:
    """Call `check` until it returns something truthy (returned), or fail saying `what`."""
    deadline = time.monotonic() + within_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"{what} within {within_s} s; last: {last!r}")


def gateway_alerts(prometheus: OwnPrometheus) -> list[dict[str, Any]]:
    return [a for a in prometheus.alerts(ALERT) if a["labels"].get("gateway_id") == "gw-test"]


async def test_a_stopped_gateway_raises_the_silent_alert(
    mqtt_broker: tuple[str, int], tmp_path: Path
) -> None:
    """`pts gateway run` polls 3 simulated meters every two seconds; Prometheus scrapes it
    every half second with deploy/prometheus/pts-alerts.yml. While it runs: no
    PtsGatewaySilent. After SIGTERM: pending no earlier than two poll intervals after the last
    poll, then firing no earlier than the rule's `for:` after it became pending."""
    host, port = mqtt_broker
    hold_s = rule_hold_s(ALERT)
    assert hold_s > 0, f"{ALERT} needs a for: so that it is pending before it fires"
    clock = SimulatedClock(datetime(2026, 6, 1, 15, tzinfo=UTC), speed=60)
    fleet = make_fleet(clock, 3, datetime(2026, 5, 31, tzinfo=UTC), seed=13)
    await fleet.start()
    metrics_port = free_port()
    config = gateway_config(fleet, port, tmp_path / "spool.db").model_copy(
        update={"interval_s": INTERVAL_S, "metrics_port": metrics_port}
    )
    config_path = tmp_path / "gateway.yaml"
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    recorder = Recorder(host, port, "pts/v1/gw-test/+/readings")
    log = (tmp_path / "gateway.log").open("ab")
    gateway = start_gateway(config_path, log)
    prometheus = OwnPrometheus(
        tmp_path / "prometheus", {"pts-gateway": [f"127.0.0.1:{metrics_port}"]}, EVERY
    )
    try:

        def polled() -> float:
            assert gateway.poll() is None, (tmp_path / "gateway.log").read_text()
            try:
                return sum(prometheus.query("pts_gateway_readings_polled_total").values())
            except OSError:  # Prometheus not listening yet
                return 0.0

        await asyncio.to_thread(wait_until, "Prometheus sees readings polled", polled, 60)
        # running: several poll intervals and evaluations, never an alert
        watched_until = time.monotonic() + 4 * INTERVAL_S + 2
        while time.monotonic() < watched_until:
            assert gateway_alerts(prometheus) == []
            await asyncio.sleep(0.25)
        assert recorder.messages > 0

        gateway.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(gateway.wait, 30) == 0
        last_poll = prometheus.query("last_over_time(pts_gateway_last_poll_timestamp_seconds[1h])")[
            "gw-test"
        ]

        def in_state(state: str) -> dict[str, Any] | None:
            return next((a for a in gateway_alerts(prometheus) if a["state"] == state), None)

        pending = await asyncio.to_thread(
            wait_until, f"{ALERT} pending", lambda: in_state("pending"), 30, 0.1
        )
        active_at = iso_seconds(pending["activeAt"])
        assert active_at >= last_poll + 2 * INTERVAL_S
        assert pending["labels"]["severity"] == "warning"
        firing = await asyncio.to_thread(
            wait_until, f"{ALERT} firing", lambda: in_state("firing"), hold_s + 30
        )
        assert iso_seconds(firing["activeAt"]) == active_at  # the same alert, now firing
        assert time.time() >= active_at + hold_s
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait(10)
        prometheus.stop()
        log.close()
        recorder.stop()
        await fleet.stop()


def iso_seconds(text: str) -> float:
    """Prometheus's RFC 3339 instant (nanoseconds, 'Z') as Unix seconds."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp()
    return stamp + (float(f"0.{fraction}") if fraction else 0.0)
