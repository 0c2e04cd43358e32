"""What every route needs, built once per application (WebContext), and how a refusal becomes
an answer (JSON for the API, a page or the sign-in redirect for the portal). The routers,
the renderer and the dependencies import this module; web.app imports them: no cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from psycopg_pool import ConnectionPool

from certification.errors import Refused
from certification.month_close import Thresholds
from pts.settings import Settings
from web import errors
from web.accounts import SessionPolicy
from web.throttle import Limits

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
    identity = getattr(request.state, "identity", None)
    staff = identity is not None and identity.account.role.value == "admin"
    return ctx.templates.TemplateResponse(
        request,
        "error.html",
        {
            "code": shown["code"],
            "message": shown["message"],
            "identity": None,
            "staff": staff,  # the reason code is shown to staff only (the write log has it)
            "contact": ctx.settings.web_support_contact.strip(),
        },
        status_code=status,
    )
