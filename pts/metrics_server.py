"""Serve a process's Prometheus registry on /metrics (used by every long-running command)."""

from __future__ import annotations

import structlog
from prometheus_client import CollectorRegistry, start_http_server

log = structlog.get_logger(__name__)


def serve(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> bool:
    """Serve `registry` on http://host:port/metrics from a daemon thread. Port 0 is off; a
    port in use is logged (`metrics_port_unavailable`), not fatal: the process keeps working."""
    if port == 0:
        return False
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.error("metrics_port_unavailable", port=port, host=host, error=str(exc))
        return False
    log.info("metrics_serving", port=port, host=host)
    return True
