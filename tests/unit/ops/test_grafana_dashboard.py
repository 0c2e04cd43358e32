"""deploy/grafana/pts-pipeline.json asks Prometheus only for metrics the processes export
(names collected from the real collectors), and every expression is valid PromQL (promtool)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gateways.agent import GatewayAgent
from gateways.agent_config import GatewayConfig, MqttConfig
from gateways.clock import SteppedClock
from gateways.meters import MeterConfig
from gateways.metrics import gateway_registry
from ingest.bridge import Bridge, MqttSource
from ingest.broker_watch import BrokerWatch
from ingest.envelope import Outgoing
from ingest.metrics import bridge_registry, das_pull_registry
from ingest.produce_stats import ProduceStats
from ingest.topics import OurTopics
from pts.settings import PROJECT_ROOT
from stream.metrics import WorkerMetrics

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "pts-pipeline.json"
METRIC = re.compile(r"\bpts_[a-z0-9_]+\b")


class NoSink:
    """A RecordSink that is never called: the bridge only has to exist to be collected
    (with a KafkaSink's produce counts, so the produce latency and errors are exported)."""

    produce = ProduceStats()

    async def send(self, record: Outgoing) -> Any:
        raise AssertionError("not used")


SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}


def sample_names(registry: CollectorRegistry) -> set[str]:
    """Every series name the registry serves or will serve once a label is set (counters'
    _total, histograms' _bucket/_count/_sum, gauges by their name)."""
    return {
        family.name + suffix for family in registry.collect() for suffix in SUFFIXES[family.type]
    }


def exported(tmp_path: Path) -> set[str]:
    """The names the gateway, the bridge (with its broker watch), `pts das pull` and the
    stream worker export."""
    config = GatewayConfig(
        gateway_id="gw-names",
        spool_path=tmp_path / "spool.db",
        mqtt=MqttConfig(host="127.0.0.1", port=1, username="gw-names", password="x"),
        meters=[
            MeterConfig(meter_id="M1", host="127.0.0.1", port=1, unit_id=1, map="pts-sim-uint32-le")
        ],
    )
    agent = GatewayAgent(config, SteppedClock(datetime(2026, 6, 1, tzinfo=UTC)))
    bridge = Bridge(MqttSource("127.0.0.1", 1, "names", OurTopics()), NoSink())
    watch = BrokerWatch("127.0.0.1", 1, "names-watch", None, None)
    return (
        sample_names(gateway_registry(agent))
        | sample_names(bridge_registry(bridge, watch))
        | sample_names(das_pull_registry(bridge, "sunny"))
        | sample_names(WorkerMetrics().registry)
    )


def expressions(node: Any) -> Iterator[str]:
    """Every `expr` anywhere in the dashboard (panels, rows' panels, targets)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


def test_every_expression_names_only_exported_metrics(tmp_path: Path) -> None:
    """No panel asks for a metric no process serves (a renamed metric is caught here)."""
    dashboard = json.loads(DASHBOARD.read_text())
    names = exported(tmp_path)
    found = list(expressions(dashboard))
    assert len(found) >= 20
    unknown = {m for e in found for m in METRIC.findall(e)} - names
    assert unknown == set()
    assert all(METRIC.search(e) for e in found), "an expression names no PTS metric"


def test_every_metric_family_has_a_panel(tmp_path: Path) -> None:
    """Each exported family (without _created) appears in some panel."""
    used = {m for e in expressions(json.loads(DASHBOARD.read_text())) for m in METRIC.findall(e)}
    families = {re.sub(r"_(total|bucket|count|sum|created)$", "", n) for n in exported(tmp_path)}
    missing = {f for f in families if not any(u.startswith(f) for u in used)}
    assert missing == set()


def test_every_expression_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each expression (as a recording rule)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed (Debian package `prometheus`; .ci/run adds it)"
    found = list(expressions(json.loads(DASHBOARD.read_text())))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr{n}", "expr": e} for n, e in enumerate(found)]}]}  # fmt: skip
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(found)} rules found" in done.stdout


@pytest.mark.parametrize("field", ["uid", "title", "panels"])
def test_dashboard_is_importable(field: str) -> None:
    """The fields Grafana's import needs, and a datasource variable instead of a fixed uid."""
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard[field]
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p.get("targets", [])}
    assert uids == {"${datasource}"}


def test_das_pull_counts_by_provider() -> None:
    """`pts das pull` labels its counts with the provider and its client id."""
    bridge = Bridge(MqttSource("127.0.0.1", 1, "pts-das-sunny-h1", OurTopics()), NoSink())
    samples = {
        s.name: s.labels
        for family in das_pull_registry(bridge, "sunny").collect()
        for s in family.samples
    }
    assert samples["pts_das_pull_readings_total"] == {
        "provider_id": "sunny",
        "client_id": "pts-das-sunny-h1",
    }
    assert set(samples) >= {
        "pts_das_pull_last_message_timestamp_seconds",
        "pts_das_pull_subscribed",
    }
