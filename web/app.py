"""The ASGI application: one FastAPI app for the portal and the API, a psycopg connection pool,
the error answers and the request log.

Request order: the request log (web.request_log) times the request → a route resolves the
caller through `deps` (one resolver per credential kind) → loads → calls one workflow →
renders. After the answer, every write by a signed-in caller is recorded in `write_log`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlsplit

import anyio.to_thread
import psycopg
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from psycopg_pool import ConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from certification.errors import Refused
from certification.month_close import Thresholds
from pts.settings import Settings, service_database_url
from web import errors
from web.accounts import SessionPolicy
from web.headers import SecurityHeaders
from web.metrics import WebMetrics
from web.request_log import RequestLog
from web.throttle import Limits

log = structlog.get_logger(__name__)

TEMPLATES = Path(__file__).parent / "templates"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WebContext:
    """What every route needs, built once per application."""

    settings: Settings
    pool: ConnectionPool
    policy: SessionPolicy
    clock: Callable[[], datetime]
    templates: Jinja2Templates

    @property
    def manual_max_kw_dc(self) -> Decimal:
        return Decimal(str(self.settings.manual_report_max_kw_dc))

    @property
    def thresholds(self) -> Thresholds:
        """Month close thresholds from the settings (the constructor `pts month close` uses)."""
        return Thresholds.from_settings(self.settings)


def policy_from(settings: Settings) -> SessionPolicy:
    return SessionPolicy(
        session_hours=settings.web_session_hours,
        link_hours=settings.web_link_hours,
        limits=Limits(
            settings.web_signin_max_failures,
            settings.web_signin_max_failures_per_address,
            settings.web_signin_window_s,
        ),
    )


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


def address_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


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
    from web.render import install_filters

    install_filters(templates)
    app.state.ctx = WebContext(settings, pool, policy_from(settings), clock, templates)
    _install_handlers(app)
    app.state.metrics = WebMetrics()
    app.add_middleware(RequestLog, pool=pool, clock=clock, metrics=app.state.metrics)
    app.add_middleware(SecurityHeaders)

    from web import api, das, portal, signin

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


def back_to(request: Request) -> str:
    """Where sign-in should lead: the page asked for, or for a form sent after the session
    ended, the page the form was on (a local path only)."""
    if request.method == "GET":
        return request.url.path
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = referer.netloc == request.url.netloc and referer.path.startswith("/")
    return referer.path if same_site else "/"


def answer_refusal(request: Request, refusal: Refused, status: int | None = None) -> Response:
    """JSON `{code, message}` for the API; a page (or the sign-in page) for the portal."""
    status = status or errors.status_for(refusal.code)
    if is_api(request):
        return JSONResponse(errors.body(refusal), status_code=status)
    if status == 401:
        return RedirectResponse(f"/signin?next={quote(back_to(request))}", status_code=303)
    ctx = context(request)
    shown = errors.body(refusal)
    return ctx.templates.TemplateResponse(
        request,
        "error.html",
        {"code": shown["code"], "message": shown["message"], "identity": None},
        status_code=status,
    )
