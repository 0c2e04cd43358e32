"""Portal routes of sign-in: sign in and out (here or everywhere), one-time links, the
account page (password, personal API tokens). Each: load → one workflow → render."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from certification.errors import Refused
from web import accounts, csrf
from web import credential_store as store
from web.context import address_of, context
from web.deps import Conn, MaybeMe, Me
from web.render import clear_session_cookie, page, set_session_cookie

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form(max_length=2048)]


def _safe_next(target: str) -> str:
    """Only a local path (no scheme, no host) may follow sign-in."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/signin")
def signin_form(request: Request, identity: MaybeMe, next: str = "/") -> Response:
    if identity is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return page(request, "signin.html", None, {"next": _safe_next(next)})


@router.post("/signin")
def signin_submit(
    request: Request,
    conn: Conn,
    account_id: FormText,
    password: FormText,
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    ctx = context(request)
    csrf.require(request.cookies.get(csrf.PRE_SESSION_COOKIE, ""), csrf_token)
    try:
        signed = accounts.sign_in(
            conn, account_id, password, ctx.clock(), address_of(request), ctx.policy
        )
    except Refused as refusal:
        status = 429 if refusal.code == "too_many_attempts" else 401
        request.app.state.metrics.signin_failed(refusal.code)
        return page(
            request,
            "signin.html",
            None,
            {"next": _safe_next(next), "refusal": refusal, "account_id": account_id},
            status,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, ctx, signed)
    return response


@router.post("/signout")
def signout(
    request: Request, conn: Conn, me: Me, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    found = store.get_session(conn, me.session_sha256)
    if found is not None:
        accounts.sign_out(conn, found, ctx.clock(), address_of(request))
    response = RedirectResponse("/signin", status_code=303)
    clear_session_cookie(response, ctx)
    return response


@router.post("/signout-everywhere")
def signout_everywhere(
    request: Request, conn: Conn, me: Me, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    accounts.sign_out_everywhere(conn, me.account, ctx.clock(), address_of(request))
    response = RedirectResponse("/signin", status_code=303)
    clear_session_cookie(response, ctx)
    return response


@router.get("/account")
def account_page(request: Request, conn: Conn, me: Me) -> Response:
    return _account(request, conn, me)


def _account(
    request: Request,
    conn: Conn,
    me: Me,
    extra: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    values = {
        "tokens": store.tokens_of(conn, me.account.account_id),
        "events": store.events_of(conn, me.account.account_id, 20),
        **(extra or {}),
    }
    return page(request, "account.html", me, values, status)


@router.post("/account/tokens")
def token_create(
    request: Request,
    conn: Conn,
    me: Me,
    label: FormText = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    token_id, token = accounts.create_token(
        conn, me.account, label, ctx.clock(), address_of(request)
    )
    return _account(request, conn, me, {"new_token": token, "new_token_id": token_id})


@router.post("/account/tokens/{token_id}/revoke")
def token_revoke(
    request: Request, conn: Conn, me: Me, token_id: int, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    accounts.revoke_token(conn, me.account, token_id, ctx.clock(), address_of(request))
    return RedirectResponse("/account", status_code=303)


@router.post("/account/password")
def password_change(
    request: Request,
    conn: Conn,
    me: Me,
    current: FormText,
    new: FormText,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    try:
        signed = accounts.change_password(
            conn, me.account, current, new, ctx.clock(), address_of(request), ctx.policy
        )
    except Refused as refusal:
        request.state.refusal = refusal
        return _account(request, conn, me, {"refusal": refusal}, 422)
    response = RedirectResponse("/account?changed=1", status_code=303)
    set_session_cookie(response, ctx, signed)
    return response


@router.get("/link/{secret}")
def link_form(request: Request, conn: Conn, secret: str) -> Response:
    ctx = context(request)
    try:
        account = accounts.link_account(conn, secret, ctx.clock())
    except Refused as refusal:
        return _link_unusable(request, refusal)
    return page(request, "link.html", None, {"account": account, "secret": secret})


def _link_unusable(request: Request, refusal: Refused) -> Response:
    """A used, expired or unknown link: say so and whom to ask for a new one."""
    request.state.refusal = refusal
    return page(request, "link.html", None, {"unusable": True}, 404)


@router.post("/link/{secret}")
def link_submit(
    request: Request,
    conn: Conn,
    secret: str,
    password: FormText,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Set the password with a one-time link, then sign in with it: the person lands on
    their systems (the link proved who they are; the password is theirs now)."""
    ctx = context(request)
    csrf.require(request.cookies.get(csrf.PRE_SESSION_COOKIE, ""), csrf_token)
    try:
        account = accounts.set_password_with_link(
            conn, secret, password, ctx.clock(), address_of(request)
        )
    except Refused as refusal:
        if refusal.code == "link_invalid":
            return _link_unusable(request, refusal)
        account = accounts.link_account(conn, secret, ctx.clock())
        return page(
            request,
            "link.html",
            None,
            {"account": account, "secret": secret, "refusal": refusal},
            422,
        )
    signed = accounts.sign_in(
        conn, account.account_id, password, ctx.clock(), address_of(request), ctx.policy
    )
    response = RedirectResponse("/?welcome=1", status_code=303)
    set_session_cookie(response, ctx, signed)
    return response
