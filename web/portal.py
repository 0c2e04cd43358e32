"""Portal pages: my systems, a system, the manual report form, change requests, the admin
queue (REC Owner changes, flagged systems of the last close, accounts). Each route loads,
calls one workflow (certification/workflows or web.views/web.accounts) and renders."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from certification.change_requests import Kind, Status
from certification.errors import Refused
from certification.roles import is_admin, require_admin
from certification.workflows.change_requests import (
    decide_change_request,
    request_change,
    request_rec_owner_change,
)
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import draft_export, export_quarter
from certification.workflows.record_audit import record_audit
from certification.workflows.submit_report import submit_manual_report
from certification.workflows.withdraw_reading import withdraw_manual_reading
from schemas.registry import ReportingMethod
from web import accounts, csrf, read_store, views
from web import credential_store as store
from web import report_wording as wording
from web.api_models import MONTH_PATTERN
from web.chart import monthly_svg
from web.context import address_of, context
from web.deps import Conn, Me
from web.errors import status_for
from web.finding_wording import finding_sentence
from web.metrics import observe_month_close
from web.render import page
from web.report_form import parse_report, register_wh

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form(max_length=2048)]
CsrfField = Annotated[str, Form()]


@router.get("/")
def home(request: Request, conn: Conn, me: Me) -> Response:
    systems = views.my_systems(conn, me.account)
    if len(systems) == 1 and not is_admin(me.account):
        welcome = "?welcome=1" if request.query_params.get("welcome") else ""
        return RedirectResponse(f"/systems/{systems[0].system_id}{welcome}", status_code=303)
    now = context(request).clock()
    windows = {
        s.system_id: views.window_state(s, now)
        for s in systems
        if s.reporting_method is ReportingMethod.MANUAL
    }
    return page(request, "systems.html", me, {"systems": systems, "windows": windows})


@router.get("/systems/{system_id}")
def system(request: Request, conn: Conn, me: Me, system_id: str) -> Response:
    shown = views.system_page(conn, me.account, system_id, context(request).clock())
    values = {"p": shown, "chart": monthly_svg(shown.monthly), "finding_sentence": finding_sentence}
    return page(request, "system.html", me, values)


def _report_form(
    request: Request,
    conn: Conn,
    me: Me,
    system_id: str,
    extra: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    ctx = context(request)
    shown = views.report_page(conn, me.account, system_id, ctx.clock())
    values = {
        "p": shown,
        "summary": wording.summary,
        **(extra or {}),
    }
    return page(request, "report.html", me, values, status)


@router.get("/systems/{system_id}/report")
def report_form(request: Request, conn: Conn, me: Me, system_id: str) -> Response:
    return _report_form(request, conn, me, system_id)


@router.post("/systems/{system_id}/report")
def report_submit(
    request: Request,
    conn: Conn,
    me: Me,
    system_id: str,
    meter_id: FormText,
    register_kwh: FormText,
    read_on: FormText,
    read_time: FormText = "12:00",
    csrf_token: CsrfField = "",
) -> Response:
    """A manual monthly report: the register in kWh (as the meter shows it), the local date
    and time it was read (noon when not given). A refusal is said in plain words next to the
    field it concerns (web.report_wording); someone who is not the System Representative gets
    the page without the form and 403."""
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    request.state.write_action = views.MANUAL_REPORT
    request.state.write_target = system_id
    shown = views.report_page(conn, me.account, system_id, ctx.clock())  # 404 if not theirs
    ask = wording.whom_to_ask(ctx.settings.web_support_contact)
    if not shown.can_report:
        request.state.refusal = Refused(
            "not_the_representative",
            f"only the System Representative of {system_id} may submit production "
            f"(account {me.account.account_id} is {me.account.role.value})",
        )
        return _report_form(request, conn, me, system_id, {"not_yours": True}, 403)
    entered_wh: int | None = None
    entered_at: datetime | None = None
    earlier = None
    try:
        entered_wh = register_wh(register_kwh)
        report = parse_report(meter_id, register_kwh, read_on, read_time, shown.system.timezone)
        entered_at = report.read_at
        if report.meter_id not in {m.meter_id for m in shown.meters}:
            raise Refused("meter_not_on_system", f"meter {meter_id} is not on {system_id}")
        earlier = views.last_reading(conn, report.meter_id)
        reading = submit_manual_report(
            conn, me.account.account_id, report, ctx.clock(), ctx.manual_max_kw_dc
        )
    except Refused as refusal:
        request.state.refusal = refusal
        situation = wording.Situation(
            shown.system.timezone,
            shown.system.capacity_kw_dc,
            shown.window,
            earlier,
            entered_wh,
            entered_at,
            ask,
            earlier is not None and any(ts == earlier.ts for _, ts in shown.correctable),
        )
        entered = {"register_kwh": register_kwh, "read_on": read_on, "read_time": read_time}
        values = {"advice": wording.advise(refusal, situation), "entered": entered}
        return _report_form(request, conn, me, system_id, values, 422)
    gain = wording.earned(
        reading.reading.energy_wh,
        earlier,
        shown.system.srec_factor,
        reading.month,
        shown.system.timezone,
    )
    return _report_form(request, conn, me, system_id, {"accepted": reading, "earned": gain})


# refusals of a withdrawal itself (the rest, about a corrected number, are a report's)
WITHDRAWAL_CODES = frozenset(
    {
        "window_closed_for_reading",
        "month_closed",
        "not_your_reading",
        "meter_replacement_reading",
        "later_reading_exists",
        "same_value",
        "reason_required",
        "reason_too_long",
        "reading_changed",
        "unknown_reading",
        "not_a_manual_reading",
        "bad_reading_time",
    }
)


def _reading_time(text: str) -> datetime:
    """The reading's instant as the page sent it (ISO 8601 with its offset)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Refused("bad_reading_time", f"{text!r} is not a reading's time with its offset")
    return moment


def _withdraw(
    request: Request,
    conn: Conn,
    me: Me,
    system_id: str,
    meter_id: str,
    ts: str,
    reason: str,
    register_kwh: str | None,
    csrf_token: str,
) -> Response:
    """Withdraw (register_kwh None) or correct a reading; the report page says what was done
    with both numbers, or why not in plain words (never a code)."""
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    request.state.write_action = views.WITHDRAWAL
    request.state.write_target = system_id
    shown = views.report_page(conn, me.account, system_id, ctx.clock())  # 404 if not theirs
    ask = wording.whom_to_ask(ctx.settings.web_support_contact)
    month = ""
    corrected_wh: int | None = None
    try:
        moment = _reading_time(ts)
        month = views.reading_month(moment, shown.system.timezone)
        if register_kwh is not None:
            corrected_wh = register_wh(register_kwh)
        done = withdraw_manual_reading(
            conn,
            me.account.account_id,
            meter_id.strip(),
            moment,
            reason,
            ctx.clock(),
            corrected_wh,
            ctx.manual_max_kw_dc,
        )
    except Refused as refusal:
        request.state.refusal = refusal
        status = status_for(refusal.code)
        if refusal.code == "not_the_representative":
            values = {"not_yours": True, "correcting": (meter_id, ts)}
            return _report_form(request, conn, me, system_id, values, 403)
        if refusal.code in WITHDRAWAL_CODES:
            advice = wording.advise_withdrawal(refusal, month, ask)
        else:
            earlier = views.reading_before(conn, meter_id.strip(), _reading_time(ts))
            situation = wording.Situation(
                shown.system.timezone,
                shown.system.capacity_kw_dc,
                shown.window,
                earlier,
                corrected_wh,
                _reading_time(ts),
                ask,
            )
            advice = wording.advise(refusal, situation)
        values = {"withdraw_advice": advice, "correcting": (meter_id, ts)}
        return _report_form(request, conn, me, system_id, values, status)
    return _report_form(request, conn, me, system_id, {"withdrawn": done})


@router.post("/systems/{system_id}/readings/correct")
def reading_correct(
    request: Request,
    conn: Conn,
    me: Me,
    system_id: str,
    meter_id: FormText,
    ts: FormText,
    register_kwh: FormText,
    reason: FormText = "",
    csrf_token: CsrfField = "",
) -> Response:
    """ "This reading is wrong": the right number in place of the wrong one, same instant."""
    return _withdraw(request, conn, me, system_id, meter_id, ts, reason, register_kwh, csrf_token)


@router.post("/systems/{system_id}/readings/withdraw")
def reading_withdraw(
    request: Request,
    conn: Conn,
    me: Me,
    system_id: str,
    meter_id: FormText,
    ts: FormText,
    reason: FormText = "",
    csrf_token: CsrfField = "",
) -> Response:
    """Withdraw a reading without a number in its place (it was not a reading of this meter)."""
    return _withdraw(request, conn, me, system_id, meter_id, ts, reason, None, csrf_token)


@router.post("/systems/{system_id}/change-requests")
def change_request_open(
    request: Request,
    conn: Conn,
    me: Me,
    system_id: str,
    new_rec_owner_id: FormText,
    transfer_contract: FormText = "",
    csrf_token: CsrfField = "",
) -> Response:
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    views.visible_system(conn, me.account, system_id)
    now = ctx.clock()
    request_rec_owner_change(
        conn,
        me.account.account_id,
        system_id,
        f"{system_id}-{now:%Y%m%d%H%M%S}",
        new_rec_owner_id.strip(),
        transfer_contract.strip() or None,
        now,
    )
    return RedirectResponse(f"/systems/{system_id}", status_code=303)


@router.post("/systems/{system_id}/party-changes")
def party_change_open(
    request: Request,
    conn: Conn,
    me: Me,
    system_id: str,
    kind: FormText,
    new_party_id: FormText,
    document: FormText = "",
    csrf_token: CsrfField = "",
) -> Response:
    """The System Owner asks for a new System Representative or DAS provider."""
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    request.state.write_target = system_id
    views.visible_system(conn, me.account, system_id)
    if kind not in (Kind.REPRESENTATIVE.value, Kind.DAS_PROVIDER.value):
        raise Refused("bad_kind", "choose a change of representative or of DAS provider")
    now = ctx.clock()
    request_change(
        conn,
        me.account.account_id,
        system_id,
        f"{system_id}-{now:%Y%m%d%H%M%S}",
        Kind(kind),
        new_party_id.strip(),
        document.strip() or None,
        now,
    )
    return RedirectResponse(f"/systems/{system_id}", status_code=303)


def _admin_page(
    request: Request, conn: Conn, me: Me, extra: dict[str, object] | None = None, status: int = 200
) -> Response:
    requests, flagged = views.admin_queue(conn, me.account)
    values = {
        "requests": requests,
        "flagged": flagged,
        "exports": read_store.gis_exports(conn),
        "accounts": store.list_accounts(conn),
        "writes": read_store.recent_writes(conn, 30),
        **(extra or {}),
    }
    return page(request, "admin.html", me, values, status)


@router.get("/admin")
def admin(request: Request, conn: Conn, me: Me) -> Response:
    return _admin_page(request, conn, me)


@router.post("/admin/gis-export")
def gis_export(
    request: Request, conn: Conn, me: Me, quarter: FormText, csrf_token: CsrfField = ""
) -> Response:
    """The quarter's NEPOOL GIS upload, recorded (once: amendments go out in the next one);
    the admin page then offers its file."""
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    chosen = quarter.strip().upper()
    request.state.write_target = chosen
    export_quarter(conn, chosen, me.account, ctx.clock(), ctx.settings.default_timezone)
    return RedirectResponse(f"/admin?exported={chosen}", status_code=303)


@router.get("/admin/gis-exports/{quarter}")
def gis_export_file(conn: Conn, me: Me, quarter: str) -> Response:
    """A recorded upload file (`unitID,MM/YYYY,MWh`), byte for byte as exported."""
    require_admin(me.account, "download a NEPOOL GIS export")
    content = read_store.gis_export_content(conn, quarter)
    if content is None:
        raise Refused("not_found", f"{quarter} has not been exported; export it first")
    return _csv_download(content, f"gis-{quarter}.csv")


def _csv_download(content: str, filename: str) -> Response:
    """A CSV file the browser saves as `filename` (the GIS upload and its draft)."""
    return Response(
        content,
        media_type="text/csv",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/admin/audits")
def audit_record(
    request: Request,
    conn: Conn,
    me: Me,
    meter_id: FormText,
    register_kwh: FormText,
    read_on: FormText,
    evidence: FormText,
    read_time: FormText = "12:00",
    csrf_token: CsrfField = "",
) -> Response:
    """A site audit: the register as staff read it on the meter (kWh, local date and time),
    compared with what was reported at that instant."""
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    request.state.write_target = meter_id.strip()
    require_admin(me.account, "record a site audit")
    try:
        system = views.meter_system(conn, me.account, meter_id.strip())
        read = parse_report(meter_id, register_kwh, read_on, read_time, system.timezone)
        result = record_audit(
            conn,
            me.account,
            read.meter_id,
            read.read_at,
            read.register_wh,
            evidence.strip(),
            ctx.clock(),
            ctx.thresholds,
        )
    except Refused as refusal:
        request.state.refusal = refusal
        return _admin_page(request, conn, me, {"audit_refusal": refusal}, 422)
    return _admin_page(request, conn, me, {"audit": result, "audit_timezone": system.timezone})


@router.post("/admin/month-close")
def month_close(
    request: Request, conn: Conn, me: Me, month: FormText, csrf_token: CsrfField = ""
) -> Response:
    """Close a month for every system; the admin page then lists the flagged ones."""
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    request.state.write_target = month.strip()
    if not re.fullmatch(MONTH_PATTERN, month.strip()):
        raise Refused("bad_month", "enter the month as YYYY-MM (for example 2026-10)")
    began = time.perf_counter()
    done = close_month(conn, month.strip(), me.account, ctx.clock(), ctx.thresholds)
    observe_month_close(request, time.perf_counter() - began, done)
    flagged = sum(1 for s in done.systems if s.findings)
    return RedirectResponse(
        f"/admin?closed={done.month}&systems={len(done.systems)}&flagged={flagged}",
        status_code=303,
    )


@router.get("/admin/gis-draft")
def gis_draft(request: Request, conn: Conn, me: Me, quarter: str) -> Response:
    """The NEPOOL GIS lines of a quarter so far, as a CSV download (nothing is recorded)."""
    content = draft_export(conn, quarter.strip(), me.account)
    return _csv_download(content, f"gis-{quarter.strip()}-draft.csv")


@router.post("/admin/change-requests/{system_id}/{request_id}")
def change_request_decide(
    request: Request,
    conn: Conn,
    me: Me,
    system_id: str,
    request_id: str,
    decision: FormText,
    csrf_token: CsrfField = "",
) -> Response:
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    views.visible_system(conn, me.account, system_id)
    try:
        status = Status(decision)
    except ValueError as exc:
        raise Refused("bad_status", "decision must be approved, cancelled or withdrawn") from exc
    decide_change_request(conn, me.account.account_id, system_id, request_id, status, ctx.clock())
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/accounts")
def account_invite(
    request: Request,
    conn: Conn,
    me: Me,
    account_id: FormText,
    role: FormText,
    name: FormText = "",
    email: FormText = "",
    csrf_token: CsrfField = "",
) -> Response:
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    invitation = accounts.invite(
        conn,
        me.account,
        account_id,
        role,
        name,
        email,
        ctx.clock(),
        address_of(request),
        ctx.policy,
    )
    return page(request, "link_issued.html", me, {"invitation": invitation, "kind": "invitation"})


@router.post("/admin/accounts/{account_id}/disabled")
def account_disable(
    request: Request,
    conn: Conn,
    me: Me,
    account_id: str,
    disabled: FormText,
    csrf_token: CsrfField = "",
) -> Response:
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    accounts.set_disabled(
        conn, me.account, account_id, disabled == "true", ctx.clock(), address_of(request)
    )
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/accounts/{account_id}/reset")
def account_reset(
    request: Request, conn: Conn, me: Me, account_id: str, csrf_token: CsrfField = ""
) -> Response:
    ctx = context(request)
    csrf.require(me.csrf_token, csrf_token)
    invitation = accounts.reset_link(
        conn, me.account, account_id, ctx.clock(), address_of(request), ctx.policy
    )
    return page(request, "link_issued.html", me, {"invitation": invitation, "kind": "reset"})
