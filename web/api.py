"""The REST API under /api/v1 (OpenAPI at /api/openapi.json). Errors are `{code, message}`;
a system the caller holds no role on answers 404. Each route: load → one workflow → render."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse

from certification.change_requests import Kind, Status
from certification.errors import Refused
from certification.manual_reports import ManualReport
from certification.roles import require_admin, roles_on
from certification.workflows.change_requests import (
    decide_change_request,
    request_change,
)
from certification.workflows.check_provenance import check_provenance
from certification.workflows.check_provenance import render as render_provenance
from certification.workflows.close_month import close_month
from certification.workflows.submit_report import submit_manual_report
from certification.workflows.trace_certificates import certification_report
from certification.workflows.withdraw_reading import withdraw_manual_reading
from schemas.registry import System
from storage import certification_store as cstore
from storage import registry_store
from storage import withdrawals as wstore
from web import accounts, read_store, views
from web import credential_store as store
from web.api_models import (
    MONTH_PATTERN,
    AccountOut,
    AmendmentOut,
    ChangeRequestIn,
    ChangeRequestOut,
    ClosedSystemOut,
    CloseIn,
    DayOut,
    DecisionIn,
    ErrorOut,
    InvitationIn,
    InvitationOut,
    LedgerOut,
    ManualReportIn,
    MeterOut,
    MonthOut,
    ReadingOut,
    ReadingsPage,
    SystemOut,
    TokenCreated,
    TokenIn,
    TokenOut,
    WindowOut,
    WithdrawalIn,
    WithdrawalOut,
    WriteOut,
)
from web.context import address_of, context
from web.deps import Caller, Conn
from web.identity import Identity
from web.metrics import observe_month_close

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (401, 403, 404, 409, 422, 429)
}
router = APIRouter(prefix="/api/v1", responses=ERRORS)


def _system_out(system: System, me: Identity) -> SystemOut:
    return SystemOut(
        system_id=system.system_id,
        name=system.name,
        timezone=system.timezone,
        capacity_kw_dc=system.capacity_kw_dc,
        program=system.program.value,
        reporting_method=system.reporting_method.value,
        owner_id=system.owner_id,
        rec_owner_id=system.effective_rec_owner_id,
        representative_id=system.representative_id,
        das_provider_id=system.das_provider_id,
        gis_unit_id=system.gis_unit_id,
        roles=sorted(r.value for r in roles_on(me.account, system)),
    )


def _request_out(row: Any) -> ChangeRequestOut:
    kind = row.kind.value if isinstance(row.kind, Kind) else row.kind
    rec_owner = kind == Kind.REC_OWNER.value
    return ChangeRequestOut(
        request_id=row.request_id,
        system_id=row.system_id,
        kind=kind,
        requested_by=row.requested_by,
        new_party_id=row.new_party_id,
        document=row.document,
        new_rec_owner_id=row.new_party_id if rec_owner else None,
        transfer_contract=row.document if rec_owner else None,
        created_at=row.created_at,
        status=row.status.value if isinstance(row.status, Status) else row.status,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


# -- me --------------------------------------------------------------------------------------


@router.get("/me", response_model=AccountOut, tags=["me"])
def me(caller: Caller) -> AccountOut:
    a = caller.account
    return AccountOut(account_id=a.account_id, role=a.role.value, name=a.name, email=a.email)


@router.get("/me/tokens", response_model=list[TokenOut], tags=["me"])
def my_tokens(conn: Conn, caller: Caller) -> list[TokenOut]:
    return [
        TokenOut(
            token_id=t.token_id,
            label=t.label,
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )
        for t in store.tokens_of(conn, caller.account.account_id)
    ]


@router.post("/me/tokens", response_model=TokenCreated, status_code=201, tags=["me"])
def token_create(request: Request, conn: Conn, caller: Caller, body: TokenIn) -> TokenCreated:
    ctx = context(request)
    token_id, token = accounts.create_token(
        conn, caller.account, body.label, ctx.clock(), address_of(request)
    )
    return TokenCreated(token_id=token_id, token=token)


@router.delete("/me/tokens/{token_id}", status_code=204, tags=["me"])
def token_revoke(request: Request, conn: Conn, caller: Caller, token_id: int) -> Response:
    ctx = context(request)
    accounts.revoke_token(conn, caller.account, token_id, ctx.clock(), address_of(request))
    return Response(status_code=204)


@router.post("/accounts", response_model=InvitationOut, status_code=201, tags=["accounts"])
def account_invite(
    request: Request, conn: Conn, caller: Caller, body: InvitationIn
) -> InvitationOut:
    """Admins: create an account; the answer carries its one-time invitation link."""
    ctx = context(request)
    invitation = accounts.invite(
        conn,
        caller.account,
        body.account_id,
        body.role,
        body.name,
        body.email,
        ctx.clock(),
        address_of(request),
        ctx.policy,
    )
    return InvitationOut(
        account_id=invitation.account.account_id,
        link_path=f"/link/{invitation.link_secret}",
        expires_at=invitation.expires_at,
    )


# -- systems ---------------------------------------------------------------------------------


@router.get("/systems", response_model=list[SystemOut], tags=["systems"])
def systems(conn: Conn, caller: Caller) -> list[SystemOut]:
    return [_system_out(s, caller) for s in views.my_systems(conn, caller.account)]


@router.get("/systems/{system_id}", response_model=SystemOut, tags=["systems"])
def system(conn: Conn, caller: Caller, system_id: str) -> SystemOut:
    return _system_out(views.visible_system(conn, caller.account, system_id), caller)


@router.get("/systems/{system_id}/meters", response_model=list[MeterOut], tags=["systems"])
def meters(conn: Conn, caller: Caller, system_id: str) -> list[MeterOut]:
    views.visible_system(conn, caller.account, system_id)
    return [
        MeterOut(
            meter_id=m.meter_id,
            serial=m.serial,
            model=m.model,
            accuracy_class=m.accuracy_class.value,
            installed_on=m.installed_on.isoformat(),
            removed_on=m.removed_on.isoformat() if m.removed_on else None,
        )
        for m in registry_store.list_meters(conn, system_id)
    ]


@router.get("/systems/{system_id}/readings", response_model=ReadingsPage, tags=["readings"])
def readings(
    conn: Conn,
    caller: Caller,
    system_id: str,
    since: Annotated[datetime | None, Query(description="from this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="before this time")] = None,
    before: Annotated[datetime | None, Query(description="page cursor: next_before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ReadingsPage:
    """Readings newest first, `limit` per page; follow `next_before` for older ones."""
    for moment in (since, until, before):
        if moment is not None and moment.tzinfo is None:
            raise Refused("invalid_request", "times need a UTC offset (e.g. ...T00:00:00Z)")
    rows = views.readings(conn, caller.account, system_id, since, until, before, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return ReadingsPage(
        items=[
            ReadingOut(
                meter_id=r.meter_id,
                ts=r.ts,
                energy_wh=r.energy_wh,
                source=r.source,
                flags=r.flags,
                event=r.event,
            )
            for r in rows
        ],
        next_before=rows[-1].ts if more and rows else None,
    )


@router.get(
    "/systems/{system_id}/production/monthly", response_model=list[MonthOut], tags=["readings"]
)
def monthly(
    request: Request,
    conn: Conn,
    caller: Caller,
    system_id: str,
    months: Annotated[int, Query(ge=1, le=120)] = 24,
) -> list[MonthOut]:
    system = views.visible_system(conn, caller.account, system_id)
    shown = views.monthly_production(conn, system, context(request).clock(), months)
    return [MonthOut(month=m.month, energy_wh=m.energy_wh, basis=m.basis) for m in shown]


@router.get("/systems/{system_id}/production/daily", response_model=list[DayOut], tags=["readings"])
def daily(
    conn: Conn,
    caller: Caller,
    system_id: str,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="local month YYYY-MM")],
) -> list[DayOut]:
    """Energy per local day of `month`, as the stream measured it."""
    views.visible_system(conn, caller.account, system_id)
    first = date.fromisoformat(f"{month}-01")
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return [
        DayOut(day=d, energy_wh=wh)
        for d, wh in read_store.daily_energy(conn, system_id, first.isoformat(), last.isoformat())
    ]


@router.get("/systems/{system_id}/amendments", response_model=list[AmendmentOut], tags=["srec"])
def amendments(conn: Conn, caller: Caller, system_id: str) -> list[AmendmentOut]:
    """Corrections of closed months: who, when, why, the evidence, before and after."""
    views.visible_system(conn, caller.account, system_id)
    return [
        AmendmentOut(
            amendment_id=a.amendment_id,
            month=a.month,
            before_wh=a.before_wh,
            after_wh=a.after_wh,
            reason=a.reason,
            evidence=a.evidence,
            amended_by=a.amended_by,
            amended_at=a.amended_at,
            exported_in=a.exported_in,
        )
        for a in cstore.amendments(conn, system_id)
    ]


@router.get("/systems/{system_id}/window", response_model=WindowOut, tags=["reports"])
def window(request: Request, conn: Conn, caller: Caller, system_id: str) -> WindowOut:
    system = views.visible_system(conn, caller.account, system_id)
    state = views.window_state(system, context(request).clock())
    return WindowOut(
        timezone=state.timezone,
        is_open=state.is_open,
        month=state.month,
        opens=state.opens,
        closes=state.closes,
    )


def _visible_meter(conn: Conn, caller: Caller, system_id: str, meter_id: str) -> None:
    """Refuses unless the caller sees `system_id` and `meter_id` is one of its meters."""
    system = views.visible_system(conn, caller.account, system_id)
    meter = registry_store.get_meter(conn, meter_id)
    if meter is None or meter.system_id != system.system_id:
        raise Refused("unknown_meter", f"system {system_id} has no meter {meter_id!r}")


@router.post(
    "/systems/{system_id}/manual-reports",
    response_model=ReadingOut,
    status_code=201,
    tags=["reports"],
)
def manual_report(
    request: Request, conn: Conn, caller: Caller, system_id: str, body: ManualReportIn
) -> ReadingOut:
    """A System Representative's monthly register reading, inside the reporting window."""
    ctx = context(request)
    request.state.write_action = views.MANUAL_REPORT
    request.state.write_target = system_id
    if body.read_at.tzinfo is None:
        raise Refused("invalid_request", "read_at needs a UTC offset")
    _visible_meter(conn, caller, system_id, body.meter_id)
    reading = submit_manual_report(
        conn,
        caller.account.account_id,
        ManualReport(body.meter_id, body.register_wh, body.read_at, body.photo_ref),
        ctx.clock(),
        ctx.manual_max_kw_dc,
    ).reading
    return ReadingOut(
        meter_id=reading.meter_id,
        ts=reading.ts,
        energy_wh=reading.energy_wh,
        source=reading.source.value,
        flags=[f.value for f in reading.flags],
        event=reading.event.value if reading.event else None,
    )


@router.post(
    "/systems/{system_id}/readings/withdrawals",
    response_model=WithdrawalOut,
    status_code=201,
    tags=["reports"],
)
def withdrawal(
    request: Request, conn: Conn, caller: Caller, system_id: str, body: WithdrawalIn
) -> WithdrawalOut:
    """Withdraw (or correct) a manual reading while its month's reporting window is open."""
    ctx = context(request)
    request.state.write_action = views.WITHDRAWAL
    request.state.write_target = system_id
    if body.ts.tzinfo is None:
        raise Refused("invalid_request", "ts needs a UTC offset")
    _visible_meter(conn, caller, system_id, body.meter_id)
    done = withdraw_manual_reading(
        conn,
        caller.account.account_id,
        body.meter_id,
        body.ts,
        body.reason,
        ctx.clock(),
        body.corrected_register_wh,
        ctx.manual_max_kw_dc,
    )
    found = [w for w in wstore.of_system(conn, system_id) if w.withdrawal_id == done.withdrawal_id]
    return _withdrawal_out(found[0])


@router.get(
    "/systems/{system_id}/readings/withdrawals",
    response_model=list[WithdrawalOut],
    tags=["reports"],
)
def withdrawals(conn: Conn, caller: Caller, system_id: str) -> list[WithdrawalOut]:
    """The system's withdrawn and corrected readings, newest first."""
    views.visible_system(conn, caller.account, system_id)
    return [_withdrawal_out(w) for w in wstore.of_system(conn, system_id)]


def _withdrawal_out(w: wstore.WithdrawalRow) -> WithdrawalOut:
    return WithdrawalOut(
        withdrawal_id=w.withdrawal_id,
        meter_id=w.meter_id,
        ts=w.ts,
        withdrawn_wh=w.withdrawn_wh,
        replacement_wh=w.replacement_wh,
        month=w.month,
        reason=w.reason,
        withdrawn_by=w.withdrawn_by,
        withdrawn_at=w.withdrawn_at,
    )


# -- change requests -------------------------------------------------------------------------


@router.get(
    "/systems/{system_id}/change-requests",
    response_model=list[ChangeRequestOut],
    tags=["change requests"],
)
def change_requests(conn: Conn, caller: Caller, system_id: str) -> list[ChangeRequestOut]:
    views.visible_system(conn, caller.account, system_id)
    return [_request_out(r) for r in cstore.change_requests(conn, system_id)]


@router.post(
    "/systems/{system_id}/change-requests",
    response_model=ChangeRequestOut,
    status_code=201,
    tags=["change requests"],
)
def change_request_open(
    request: Request, conn: Conn, caller: Caller, system_id: str, body: ChangeRequestIn
) -> ChangeRequestOut:
    """A change request, as the portal and `pts registry request-change` open them: a new REC
    Owner (the System Owner or REC Owner, with the transfer contract), a new System
    Representative or DAS provider (the System Owner). One open request per system."""
    now = context(request).clock()
    views.visible_system(conn, caller.account, system_id)
    kind = Kind(body.kind)
    party, document = _party_and_document(kind, body)
    opened = request_change(
        conn,
        caller.account.account_id,
        system_id,
        f"{system_id}-{now:%Y%m%d%H%M%S%f}",
        kind,
        party,
        document,
        now,
    )
    return _request_out(opened)


def _party_and_document(kind: Kind, body: ChangeRequestIn) -> tuple[str, str | None]:
    """The new party and the document of a request body; `new_rec_owner_id` and
    `transfer_contract` (the first API's names) are taken for a REC Owner change only."""
    if kind is not Kind.REC_OWNER and (body.new_rec_owner_id or body.transfer_contract):
        raise Refused(
            "invalid_request",
            f"a {kind.value} change names the party as new_party_id and its document as "
            "document (new_rec_owner_id and transfer_contract are for a REC Owner change)",
        )
    party = [p for p in (body.new_party_id, body.new_rec_owner_id) if p is not None]
    documents = [d for d in (body.document, body.transfer_contract) if d is not None]
    if len(party) != 1 or len(documents) > 1:
        raise Refused(
            "invalid_request",
            "name the new party once (new_party_id, or new_rec_owner_id for a REC Owner "
            "change) and give at most one document",
        )
    return party[0], documents[0] if documents else None


@router.post(
    "/systems/{system_id}/change-requests/{request_id}/decision",
    response_model=ChangeRequestOut,
    tags=["change requests"],
)
def change_request_decide(
    request: Request,
    conn: Conn,
    caller: Caller,
    system_id: str,
    request_id: str,
    body: DecisionIn,
) -> ChangeRequestOut:
    views.visible_system(conn, caller.account, system_id)
    try:
        status = Status(body.status)
    except ValueError as exc:
        raise Refused("bad_status", "status must be approved, cancelled or withdrawn") from exc
    decide_change_request(
        conn, caller.account.account_id, system_id, request_id, status, context(request).clock()
    )
    found = [r for r in cstore.change_requests(conn, system_id) if r.request_id == request_id]
    return _request_out(found[0])


# -- certificates and month closes -----------------------------------------------------------


@router.get("/systems/{system_id}/srec-ledger", response_model=list[LedgerOut], tags=["srec"])
def srec_ledger(conn: Conn, caller: Caller, system_id: str) -> list[LedgerOut]:
    views.visible_system(conn, caller.account, system_id)
    return [
        LedgerOut(
            month=e.month,
            entry=e.entry,
            mwh=e.mwh,
            factor=e.factor,
            carry_in=e.carry_in,
            minted=e.minted,
            carry_out=e.carry_out,
        )
        for e in cstore.ledger_of(conn, system_id)
    ]


@router.get(
    "/systems/{system_id}/certification-report",
    tags=["srec"],
    response_model=None,
    # the report is text; its errors stay JSON like every other error
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def report(conn: Conn, caller: Caller, system_id: str) -> PlainTextResponse:
    """Every certificate of the system traced to its readings, with its amendments."""
    views.visible_system(conn, caller.account, system_id)
    return PlainTextResponse(certification_report(conn, system_id, caller.account))


@router.get(
    "/systems/{system_id}/provenance/{month}",
    tags=["srec"],
    response_model=None,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def provenance(
    conn: Conn,
    caller: Caller,
    system_id: str,
    month: Annotated[str, Path(pattern=MONTH_PATTERN)],
) -> PlainTextResponse:
    """The month's certificates traced to signed readings, each verified (docs/provenance.md):
    what is proven and what is not."""
    views.visible_system(conn, caller.account, system_id)
    try:
        checked = check_provenance(conn, system_id, month, datetime.now(UTC))
    except LookupError as exc:
        raise Refused("not_found", str(exc)) from exc
    return PlainTextResponse(render_provenance(checked))


@router.get("/month-closes", response_model=list[ClosedSystemOut], tags=["month close"])
def month_closes(
    conn: Conn,
    caller: Caller,
    month: Annotated[str, Query(pattern=MONTH_PATTERN)],
) -> list[ClosedSystemOut]:
    """Admins: every system's close of `month`."""
    require_admin(caller.account, "list month closes")
    return [
        ClosedSystemOut(
            system_id=r.system_id, month=r.month, energy_wh=r.energy_wh, estimated=r.estimated
        )
        for r in cstore.closes_for(conn, [month])
    ]


@router.post(
    "/month-closes", response_model=list[ClosedSystemOut], status_code=201, tags=["month close"]
)
def month_close(
    request: Request, conn: Conn, caller: Caller, body: CloseIn
) -> list[ClosedSystemOut]:
    """Admins: close a month for every system (production, findings, SRECs minted)."""
    ctx = context(request)
    request.state.write_target = body.month
    began = time.perf_counter()
    done = close_month(conn, body.month, caller.account, ctx.clock(), ctx.thresholds)
    observe_month_close(request, time.perf_counter() - began, done)
    return [
        ClosedSystemOut(
            system_id=s.system.system_id,
            month=s.month,
            energy_wh=s.energy_wh,
            estimated=s.estimated,
            minted=s.minted,
            findings=[c for c, _ in s.findings],
        )
        for s in done.systems
    ]


@router.get("/write-log", response_model=list[WriteOut], tags=["audit"])
def write_log(
    conn: Conn, caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[WriteOut]:
    """Admins: the latest writes made through the web service, newest first."""
    require_admin(caller.account, "read the write log")
    return [
        WriteOut(
            account_id=w.account_id,
            at=w.at,
            action=w.action,
            target=w.target,
            address=w.address,
            outcome=w.outcome,
            message=w.message,
        )
        for w in read_store.recent_writes(conn, limit)
    ]
