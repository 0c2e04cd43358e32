"""The ASGI application: one FastAPI app for the portal and the API, a psycopg connection pool,
the error answers and the request log. What the routes share (WebContext, the refusal
answers) is in web.context, so the routers never import this module.

Request order: the request log (web.request_log) times the request → a route resolves the
caller through `deps` (one resolver per credential kind) → loads → calls one workflow →
renders. After the answer, every write by a signed-in caller is recorded in `write_log`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import anyio.to_thread
import psycopg
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.templating import Jinja2Templates
from psycopg_pool import ConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from certification.errors import Refused
from pts.settings import Settings, service_database_url
from web import api, das, portal, signin
from web.context import TEMPLATES, WebContext, answer_refusal, policy_from, utc_now
from web.headers import SecurityHeaders
from web.metrics import WebMetrics
from web.render import install_filters
from web.request_log import RequestLog

__all__ = ["create_app", "utc_now"]

log = structlog.get_logger(__name__)


def create_app(settings: Settings, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    """The application on the database of `settings` (pool opened at startup)."""
    pool = ConnectionPool(
        service_database_url(settings, "web"),
        min_size=1,
        max_size=settings.web_pool_size,
        kwargs={"autocommit": True},
        open=False,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(lambda: pool.open(wait=True, timeout=30))
        try:
            yield
        finally:
            await app.state.das.close()
            await anyio.to_thread.run_sync(pool.close)

    app = FastAPI(
        title="PTS web service",
        version="1",
        summary="Production Tracking System: accounts, systems, readings, reports, SRECs",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    templates = Jinja2Templates(directory=str(TEMPLATES))
    install_filters(templates)
    app.state.ctx = WebContext(settings, pool, policy_from(settings), clock, templates)
    _install_handlers(app)
    app.state.metrics = WebMetrics()
    app.add_middleware(RequestLog, pool=pool, clock=clock, metrics=app.state.metrics)
    app.add_middleware(SecurityHeaders)

    app.state.das = das.das_service(settings, clock)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness without the database (the benchmark's trivial endpoint)."""
        return {"status": "ok"}

    app.include_router(signin.router)
    app.include_router(portal.router)
    app.include_router(api.router)
    app.include_router(das.router)
    return app


# -- errors ----------------------------------------------------------------------------------


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        request.state.refusal = exc
        return answer_refusal(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()[:5]
        )
        refusal = Refused("invalid_request", problems or "the request is not valid")
        request.state.refusal = refusal
        return answer_refusal(request, refusal, 422)

    @app.exception_handler(psycopg.errors.DataError)
    async def data_error(request: Request, exc: psycopg.errors.DataError) -> Response:
        """A value the database cannot hold (a NUL character, a date or number out of its
        range) is the client's mistake: 422, never 500."""
        refusal = Refused(
            "invalid_request",
            "a value is out of range or holds characters PTS does not store (such as NUL)",
        )
        request.state.refusal = refusal
        return answer_refusal(request, refusal, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        refusal = Refused(code, str(exc.detail))
        return answer_refusal(request, refusal, exc.status_code)
