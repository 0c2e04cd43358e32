"""The request log and the write log, as one pure ASGI middleware (no per-request task group,
unlike Starlette's BaseHTTPMiddleware).

After each request: one `request_handled` event, and the request counted and timed in the
metrics (web.metrics), naming the route *template* (never the path:
one-time links carry their secret in it) with status, duration and client address. After each
write (POST, PUT, PATCH, DELETE) by a signed-in caller: one `write_log` row (who, when, action,
target, address, outcome: `done` or the refusal code, and the refusal's reason). Routes refine
the row through `request.state` (`write_action`, `write_target`, `refusal`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio.to_thread
import structlog
from psycopg_pool import ConnectionPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certification.errors import Refused
from web import credential_store
from web.metrics import WebMetrics

log = structlog.get_logger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECRET_PARAMS = frozenset({"secret"})  # path parameters never logged nor recorded


class RequestLog:
    def __init__(
        self,
        app: ASGIApp,
        pool: ConnectionPool,
        clock: Callable[[], datetime],
        metrics: WebMetrics,
    ) -> None:
        self.app = app
        self.pool = pool
        self.clock = clock
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = getattr(scope.get("route"), "path", "(no route)")
            address = scope["client"][0] if scope.get("client") else "unknown"
            seconds = time.perf_counter() - started
            self.metrics.observe_request(template, scope["method"], status, seconds)
            log.info(
                "request_handled",
                method=scope["method"],
                route=template,
                status=status,
                ms=round(seconds * 1000, 1),
                address=address,
            )
            state: dict[str, Any] = scope.get("state") or {}
            identity = state.get("identity")
            if scope["method"] in WRITE_METHODS and identity is not None:
                await self._record(scope, state, identity.account.account_id, template, address,
                                   status)  # fmt: skip

    async def _record(
        self,
        scope: Scope,
        state: dict[str, Any],
        account_id: str,
        template: str,
        address: str,
        status: int,
    ) -> None:
        refusal: Refused | None = state.get("refusal")
        params = {
            k: v for k, v in (scope.get("path_params") or {}).items() if k not in SECRET_PARAMS
        }
        target = state.get("write_target") or ",".join(str(v) for v in params.values())
        action = state.get("write_action") or f"{scope['method']} {template}"
        if status < 400:
            outcome, message = "done", ""
        elif refusal is not None:
            outcome, message = refusal.code, refusal.message
        else:
            outcome, message = f"http_{status}", ""

        def record() -> None:
            with self.pool.connection() as conn:
                credential_store.add_write(
                    conn, account_id, self.clock(), action, target, address, outcome, message
                )

        await anyio.to_thread.run_sync(record)
