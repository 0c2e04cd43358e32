"""Rendering helpers shared by the portal routes: the page context, local-time filters, the
session cookie."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates

from web import csrf
from web.accounts import SignedIn
from web.context import WebContext, context
from web.credentials import new_secret
from web.identity import SESSION_COOKIE, Identity


def local_time(moment: datetime | None, timezone: str = "America/New_York") -> str:
    """'Fri 27 Nov 2026, 00:00 EST' in the system's zone."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y, %H:%M %Z")


def local_date(moment: datetime | None, timezone: str = "America/New_York") -> str:
    """'Friday 27 November 2026' in the system's zone."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%A %d %B %Y")


def whom_to_ask(contact: str) -> str:
    """'PTS staff (help@…)', or 'PTS staff' when no contact is configured."""
    return f"PTS staff ({contact.strip()})" if contact.strip() else "PTS staff"


def month_name(month: str | None) -> str:
    """'2026-10' → 'October 2026' (anything else as it is)."""
    if not month:
        return ""
    try:
        return datetime.strptime(month, "%Y-%m").strftime("%B %Y")
    except ValueError:
        return month


def kwh(energy_wh: int | None) -> str:
    return "—" if energy_wh is None else f"{energy_wh / 1000:,.1f}"


def install_filters(templates: Jinja2Templates) -> None:
    templates.env.filters["local_time"] = local_time
    templates.env.filters["local_date"] = local_date
    templates.env.filters["kwh"] = kwh
    templates.env.filters["month_name"] = month_name


def page(
    request: Request,
    name: str,
    identity: Identity | None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """Render a portal page; forms get the session's CSRF token (or the pre-session one)."""
    ctx = context(request)
    token = identity.csrf_token if identity else request.cookies.get(csrf.PRE_SESSION_COOKIE)
    fresh = None
    if not token:
        token = fresh = new_secret()
    response = ctx.templates.TemplateResponse(
        request,
        name,
        {
            "identity": identity,
            "csrf_token": token,
            "ask": whom_to_ask(ctx.settings.web_support_contact),
            **(values or {}),
        },
        status_code=status,
    )
    if fresh is not None:
        set_pre_session_cookie(response, ctx, fresh)
    return response


def set_pre_session_cookie(response: Response, ctx: WebContext, token: str) -> None:
    response.set_cookie(
        csrf.PRE_SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.web_cookie_secure,
        path="/",
    )


def set_session_cookie(response: Response, ctx: WebContext, signed: SignedIn) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signed.session_secret,
        max_age=int(ctx.policy.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=ctx.settings.web_cookie_secure,
        path="/",
    )


def clear_session_cookie(response: Response, ctx: WebContext) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=ctx.settings.web_cookie_secure,
    )
