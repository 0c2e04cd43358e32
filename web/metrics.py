"""The web service's Prometheus metrics: requests by route template, method and status, their
latency, sign-in failures by reason, DAS readings the intake accepted or refused, and month
closes (their duration, and their findings by code).

One registry per application (nothing global), filled by the request log (web.request_log),
the sign-in route and the DAS routes; `pts web serve` serves it on its own port
(PTS_WEB_METRICS_PORT, default 9466 on PTS_METRICS_HOST; 0 turns it off), like the stream
worker and the bridge, so /metrics is not on the public port. Routes are labelled by their
template (`/systems/{system_id}`), never the path: bounded label values, and no secret of a
one-time link reaches the metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram

if TYPE_CHECKING:
    from fastapi import Request

    from certification.workflows.close_month import CloseReport

SIGNIN_REASONS = ("bad_credentials", "too_many_attempts", "account_disabled", "csrf_failed")


class WebMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pts_web_requests",
            "requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pts_web_request_seconds",
            "time to answer a request, by route template",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.signin_failures = Counter(
            "pts_web_signin_failures",
            "sign-ins refused, by reason code",
            ["reason"],
            registry=self.registry,
        )
        self.das_readings = Counter(
            "pts_web_das_readings",
            "DAS report rows: accepted (Kafka took them) or refused by the intake",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("accepted", "refused"):
            self.das_readings.labels(outcome)  # present from the start, at 0
        self.month_close_seconds = Histogram(
            "pts_month_close_seconds",
            "time to close a month for every system (admin page or API)",
            buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
            registry=self.registry,
        )
        self.month_close_findings = Counter(
            "pts_month_close_findings",
            "findings the month closes raised, by code (docs/certification.md)",
            ["code"],
            registry=self.registry,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def signin_failed(self, reason: str) -> None:
        self.signin_failures.labels(reason if reason in SIGNIN_REASONS else "other").inc()

    def das_report(self, accepted: int, refused: int) -> None:
        self.das_readings.labels("accepted").inc(accepted)
        self.das_readings.labels("refused").inc(refused)

    def month_closed(self, seconds: float, codes: Iterable[str]) -> None:
        self.month_close_seconds.observe(seconds)
        for code in codes:
            self.month_close_findings.labels(code).inc()


def observe_month_close(request: Request, seconds: float, report: CloseReport) -> None:
    """Record a month close the web service ran (its app's metrics, when it has them)."""
    metrics = getattr(request.app.state, "metrics", None)
    if isinstance(metrics, WebMetrics):
        metrics.month_closed(seconds, [c for s in report.systems for c, _ in s.findings])
