"""`pts registry | report | month | audit | srec`: the certification commands.

Each command opens one connection to the configured database, runs one workflow from
certification.workflows and prints what it decided. A refusal prints its code and reason and
exits with status 2. `--now` (ISO time, default: the clock) makes runs reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import click
import psycopg

from certification.certification_report import plain_decimal
from certification.change_requests import Kind, Status
from certification.errors import Refused
from certification.manual_reports import ManualReport, parse_read_at
from certification.month_close import Thresholds
from certification.registry_document import load_yaml_registry
from certification.roles import Account, is_admin
from certification.workflows.accept_month import accept_month
from certification.workflows.accounts import account
from certification.workflows.amend_month import amend as amend_month
from certification.workflows.change_requests import (
    decide_change_request,
    request_change,
    request_rec_owner_change,
)
from certification.workflows.close_month import close_month
from certification.workflows.correct_capacity import correct_capacity
from certification.workflows.export_quarter import export_quarter
from certification.workflows.load_as_admin import load_as_admin
from certification.workflows.load_registry import load_registry
from certification.workflows.record_audit import record_audit
from certification.workflows.submit_report import submit_manual_report
from certification.workflows.trace_certificates import certification_report
from certification.workflows.withdraw_reading import withdraw_manual_reading
from pts.settings import get_settings, read_secret, service_database_url

_T = TypeVar("_T")


def _now(value: str | None, option: str = "--now") -> datetime:
    """--now (or another `option`): an ISO time with its UTC offset (default: the clock)."""
    if value is None:
        return datetime.now(UTC)
    try:
        moment: datetime | None = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise click.BadParameter(
            f"{option} {value!r} is not a time with its UTC offset; give e.g. "
            "2026-08-06T12:00:00+00:00"
        )
    return moment


@contextmanager
def _connection(ctx: click.Context) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(service_database_url(get_settings(ctx), "certify")) as conn:
        yield conn


def _run(action: Callable[[], _T]) -> _T:
    try:
        return action()
    except Refused as refusal:
        click.echo(f"refused: {refusal.code}: {refusal.message}", err=True)
        raise SystemExit(2) from refusal


def _manual_max(ctx: click.Context) -> Decimal:
    return Decimal(str(get_settings(ctx).manual_report_max_kw_dc))


now_option = click.option("--now", "now_text", default=None, help="ISO time (default: now)")
as_option = click.option(
    "--as",
    "account_id",
    default=None,
    help="operator mode on the server: act as this admin account (everyone else, and admins "
    "elsewhere: your API token in PTS_TOKEN or PTS_TOKEN_FILE)",
)
admin_as_option = as_option


def _acting(
    ctx: click.Context, conn: psycopg.Connection[Any], account_id: str | None, action: str
) -> Account:
    """Who runs a command that acts for a person: the account of the personal API token in
    PTS_TOKEN (or the file PTS_TOKEN_FILE), verified against the web's accounts tables (a
    revoked or expired token, a disabled account: refused). `--as ADMIN` is the operator mode
    of admins on the database host; it names an admin or is refused (a typed id of anyone
    else proves nothing)."""
    if account_id:
        who = _run(lambda: account(conn, account_id))
        if not is_admin(who):
            _run(
                lambda: _refuse(
                    "operator_admin_only",
                    f"--as is the operator mode of admins on the server, and {account_id} is "
                    f"not an admin; act as {account_id} with their API token in PTS_TOKEN "
                    "(made on the portal's Account page)",
                )
            )
        return who
    settings = get_settings(ctx)
    token = settings.token
    if not token and settings.token_file is not None:
        try:
            token = read_secret(settings.token_file, "the API token (PTS_TOKEN_FILE)")
        except ValueError as exc:
            unreadable = str(exc)
            _run(lambda: _refuse("token_unreadable", unreadable))
    if not token:
        _run(
            lambda: _refuse(
                "token_required",
                f"{action} acts for a person: set PTS_TOKEN (or PTS_TOKEN_FILE) to your "
                "personal API token (the portal's Account page, or POST /api/v1/me/tokens); "
                "admins on the server may name themselves with --as",
            )
        )
    resolve = ctx.find_root().meta.get("pts.token_account")  # pts.cli: the web's login checks it
    found = None if resolve is None else resolve(settings, token, datetime.now(UTC))
    if not isinstance(found, Account):
        _run(
            lambda: _refuse(
                "bad_token",
                "the API token in PTS_TOKEN is unknown or revoked, or its account is "
                "disabled; make a new one on the portal's Account page",
            )
        )
        raise AssertionError  # not reached: _run exits
    return found


def _refuse(code: str, message: str) -> Any:
    raise Refused(code, message)


@click.group()
def registry() -> None:
    """Systems, meters, approved meters, DAS providers, accounts; change requests."""


@registry.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--check",
    is_flag=True,
    help="validate only: every record and registry rule, against what is stored; the load is "
    "rolled back, nothing is written (no --as needed)",
)
@admin_as_option
@now_option
@click.pass_context
def registry_load(
    ctx: click.Context, file: Path, check: bool, account_id: str | None, now_text: str | None
) -> None:
    """Load a registry YAML file (providers, accounts, approved_meters, systems, meters): an
    admin's act; it cannot make anyone an admin or change a system's REC Owner. The format:
    docs/registry.md (JSON Schema: `pts schemas export`, registry.schema.json)."""
    text = file.read_text()
    document = _run(lambda: load_yaml_registry(text, f"registry {file}"))  # before any database
    data = document or {}
    now = _now(now_text)
    if check:
        with _connection(ctx) as conn, conn.transaction(force_rollback=True):
            counts = _run(lambda: load_registry(conn, data, _manual_max(ctx), now))
        loaded = " ".join(f"{k}={v}" for k, v in counts.items())
        click.echo(f"{file}: valid; would load {loaded}")
        return
    with _connection(ctx) as conn:
        loader = _acting(ctx, conn, account_id, "registry load")
        counts = _run(lambda: load_as_admin(conn, loader, data, _manual_max(ctx), now))
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


@registry.command("capacity")
@click.argument("system_id", metavar="SYSTEM")
@click.argument("kw_text", metavar="KW_DC")
@click.option("--since", "since_text", required=True, help="the day it took effect (YYYY-MM-DD)")
@click.option("--reason", required=True, help="what shows the capacity (e.g. as-built record)")
@admin_as_option
@now_option
@click.pass_context
def registry_capacity(
    ctx: click.Context,
    system_id: str,
    kw_text: str,
    since_text: str,
    reason: str,
    account_id: str | None,
    now_text: str | None,
) -> None:
    """Correct a system's recorded DC capacity from a day on, closed months included (an
    admin's act, with a reason). A registry load's capacity change takes effect from its day
    only; this is for a capacity the registry had wrong (docs/certification.md)."""
    try:
        kw = Decimal(kw_text)
        since = date.fromisoformat(since_text)
    except (InvalidOperation, ValueError):
        _run(
            lambda: _refuse(
                "bad_capacity",
                f"give the capacity in kW DC (e.g. 5 or 7.2) and --since as YYYY-MM-DD, not "
                f"{kw_text!r} and {since_text!r}",
            )
        )
        raise AssertionError from None  # not reached: _run exits
    with _connection(ctx) as conn:
        admin = _acting(ctx, conn, account_id, "registry capacity")
        _run(lambda: correct_capacity(conn, admin, system_id, kw, since, reason, _now(now_text)))
    click.echo(f"{system_id}: {kw_text} kW DC from {since.isoformat()} (by {admin.account_id})")


@registry.command("request-rec-owner")
@as_option
@click.option("--system", "system_id", required=True)
@click.option("--request", "request_id", required=True)
@click.option("--new-owner", required=True, help="account id of the new REC Owner")
@click.option("--contract", default=None, help="reference of the signed transfer contract")
@now_option
@click.pass_context
def request_rec_owner(
    ctx: click.Context,
    account_id: str,
    system_id: str,
    request_id: str,
    new_owner: str,
    contract: str | None,
    now_text: str | None,
) -> None:
    """Open a REC Owner change request (one open request per system)."""
    with _connection(ctx) as conn:
        who = _acting(ctx, conn, account_id, "registry request-rec-owner")
        request = _run(
            lambda: request_rec_owner_change(
                conn, who.account_id, system_id, request_id, new_owner, contract, _now(now_text)
            )
        )
    click.echo(f"{request.request_id} {request.status.value}")


@registry.command("request-change")
@as_option
@click.option("--system", "system_id", required=True)
@click.option("--request", "request_id", required=True)
@click.option(
    "--kind",
    type=click.Choice(["representative", "das-provider", "rec-owner"]),
    required=True,
    help="what changes: the System Representative, the DAS provider or the REC Owner",
)
@click.option(
    "--new",
    "new_party_id",
    required=True,
    help="id of the new representative, DAS provider or REC Owner",
)
@click.option("--document", default=None, help="reference of a supporting document")
@now_option
@click.pass_context
def request_change_cmd(
    ctx: click.Context,
    account_id: str,
    system_id: str,
    request_id: str,
    kind: str,
    new_party_id: str,
    document: str | None,
    now_text: str | None,
) -> None:
    """Open a change request of a system's representative, DAS provider or REC Owner (one
    open request per system; an admin decides it with `registry decide`)."""
    chosen = Kind(kind.replace("-", "_"))
    with _connection(ctx) as conn:
        who = _acting(ctx, conn, account_id, "registry request-change")
        request = _run(
            lambda: request_change(
                conn, who.account_id, system_id, request_id, chosen, new_party_id, document,
                _now(now_text),
            )
        )  # fmt: skip
    click.echo(f"{request.request_id} {request.kind.value} {request.status.value}")


@registry.command("decide")
@as_option
@click.option("--system", "system_id", required=True)
@click.option("--request", "request_id", required=True)
@click.argument("status", type=click.Choice(["approved", "withdrawn", "cancelled"]))
@now_option
@click.pass_context
def decide(
    ctx: click.Context,
    account_id: str,
    system_id: str,
    request_id: str,
    status: str,
    now_text: str | None,
) -> None:
    """Approve or cancel (admin) or withdraw (requester) a change request."""
    with _connection(ctx) as conn:
        who = _acting(ctx, conn, account_id, "registry decide")
        system = _run(
            lambda: decide_change_request(
                conn, who.account_id, system_id, request_id, Status(status), _now(now_text)
            )
        )
    click.echo(
        f"{request_id} {status}; REC Owner of {system_id}: {system.effective_rec_owner_id}, "
        f"representative: {system.representative_id or '-'}, "
        f"DAS provider: {system.das_provider_id or '-'}"
    )


@click.group()
def report() -> None:
    """Manual monthly reports."""


@report.command("submit")
@as_option
@click.option("--meter", "meter_id", required=True)
@click.option("--register-wh", type=int, required=True, help="cumulative register, Wh")
@click.option(
    "--at",
    "at_text",
    default=None,
    help="reading date or time: 2027-01-05 (noon local), 2027-01-05T09:30 (local) or with "
    "its offset [default: --now]",
)
@click.option("--photo", default=None, help="reference of a photo of the register")
@click.option("--meter-replacement", is_flag=True, help="the reading opens a replaced meter")
@click.option("--old-register-wh", type=int, default=None, help="replaced meter's final register")
@now_option
@click.pass_context
def submit(
    ctx: click.Context,
    account_id: str,
    meter_id: str,
    register_wh: int,
    at_text: str | None,
    photo: str | None,
    meter_replacement: bool,
    old_register_wh: int | None,
    now_text: str | None,
) -> None:
    """Submit a manual register reading (System Representative, in the window)."""
    now = _now(now_text)
    at = _run(lambda: parse_read_at(at_text)) if at_text else now
    entry = ManualReport(meter_id, register_wh, at, photo, meter_replacement, old_register_wh)
    with _connection(ctx) as conn:
        who = _acting(ctx, conn, account_id, "report submit")
        done = _run(
            lambda: submit_manual_report(conn, who.account_id, entry, now, _manual_max(ctx))
        )
    reading = done.reading
    click.echo(f"accepted {reading.meter_id} {reading.energy_wh} Wh at {done.local_ts.isoformat()}")


@report.command("withdraw")
@as_option
@click.option("--meter", "meter_id", required=True)
@click.option(
    "--at",
    "at_text",
    required=True,
    help="the reading's time: 2027-01-05T09:30 (local) or with its offset (as listed)",
)
@click.option("--reason", required=True, help="why the reading is withdrawn")
@click.option(
    "--corrected-register-wh",
    type=int,
    default=None,
    help="put this register value (Wh) in its place: a correction",
)
@now_option
@click.pass_context
def withdraw(
    ctx: click.Context,
    account_id: str,
    meter_id: str,
    at_text: str,
    reason: str,
    corrected_register_wh: int | None,
    now_text: str | None,
) -> None:
    """Withdraw (or correct) a manual reading entered by mistake: the Representative who
    entered it, or staff, while its month's window is open (docs/reporting.md)."""
    now = _now(now_text)
    at = _run(lambda: parse_read_at(at_text))
    with _connection(ctx) as conn:
        who = _acting(ctx, conn, account_id, "report withdraw")
        done = _run(
            lambda: withdraw_manual_reading(
                conn,
                who.account_id,
                meter_id,
                at,
                reason,
                now,
                corrected_register_wh,
                _manual_max(ctx),
            )
        )
    now_holds = "nothing" if done.replacement_wh is None else f"{done.replacement_wh} Wh"
    click.echo(
        f"withdrawn {done.meter_id} {done.withdrawn_wh} Wh at {done.local_ts.isoformat()} "
        f"(filed {done.month}); in its place: {now_holds}"
    )


@click.group()
def month() -> None:
    """Month close."""


@month.command("close")
@click.argument("month_text", metavar="YYYY-MM")
@admin_as_option
@click.option(
    "--system",
    "system_id",
    default=None,
    help="close only this system's month [default: every system whose month is open]",
)
@click.option(
    "--max-capacity-factor",
    type=str,
    default=None,
    help="output above capacity × hours × this is erratic [default: the setting "
    "PTS_ERRATIC_MAX_CAPACITY_FACTOR, 0.30]",
)
@now_option
@click.pass_context
def close(
    ctx: click.Context,
    month_text: str,
    account_id: str | None,
    system_id: str | None,
    max_capacity_factor: str | None,
    now_text: str | None,
) -> None:
    """Close a month: production, completeness, erratic data, estimates, holds, SRECs."""
    settings = get_settings(ctx)
    try:
        override = Decimal(max_capacity_factor) if max_capacity_factor else None
    except InvalidOperation:
        raise click.BadParameter(
            f"{max_capacity_factor!r} is not a number", param_hint="--max-capacity-factor"
        ) from None
    thresholds = _run(lambda: Thresholds.from_settings(settings, override))
    with _connection(ctx) as conn:
        admin = _acting(ctx, conn, account_id, "month close")
        result = _run(
            lambda: close_month(conn, month_text, admin, _now(now_text), thresholds, system_id)
        )
    click.echo("system,energy_wh,estimated,minted,carry")
    for s in result.systems:
        click.echo(
            f"{s.system.system_id},{s.energy_wh},{str(s.estimated).lower()},{s.minted},"
            f"{plain_decimal(s.carry_out)}"
        )
    held = [s for s in result.systems if s.held_by]
    if held:
        click.echo("held (nothing minted or exported until amended or accepted as reported):")
    for s in held:
        click.echo(f"  {s.system.system_id}: {', '.join(s.held_by)}")
    click.echo("contact list:")
    for c in result.contacts():
        click.echo(f"  {c.system_id} owner {c.owner_id} <{c.owner_email}>: {', '.join(c.reasons)}")


@month.command("accept")
@click.argument("system_id", metavar="SYSTEM")
@click.argument("month_text", metavar="YYYY-MM")
@click.option("--reason", required=True, help="what was checked, and why the energy stands")
@as_option
@now_option
@click.pass_context
def accept(
    ctx: click.Context,
    system_id: str,
    month_text: str,
    reason: str,
    account_id: str,
    now_text: str | None,
) -> None:
    """Release a held month with its energy as reported (admin; recorded with the reason)."""
    with _connection(ctx) as conn:
        admin = _acting(ctx, conn, account_id, "month accept")
        thresholds = Thresholds.from_settings(get_settings(ctx))
        release = _run(
            lambda: accept_month(
                conn, admin, system_id, month_text, reason, _now(now_text), thresholds
            )
        )
    click.echo(
        f"{system_id} {month_text} accepted as reported by {release.released_by}: "
        f"{release.energy_wh} Wh certified"
    )


@click.group()
def audit() -> None:
    """Audit readings and amendments."""


@audit.command("record")
@as_option
@click.option("--meter", "meter_id", required=True)
@click.option("--register-wh", type=int, required=True)
@click.option(
    "--at",
    "at_text",
    required=True,
    help="when the register was read: 2026-07-16T12:00 (local) or with its offset",
)
@click.option("--evidence", required=True)
@now_option
@click.pass_context
def record(
    ctx: click.Context,
    account_id: str,
    meter_id: str,
    register_wh: int,
    at_text: str,
    evidence: str,
    now_text: str | None,
) -> None:
    """Record an audit reading and compare it with the reports."""
    read_at = _run(lambda: parse_read_at(at_text))
    with _connection(ctx) as conn:
        admin = _acting(ctx, conn, account_id, "audit record")
        result = _run(
            lambda: record_audit(
                conn,
                admin,
                meter_id,
                read_at,
                register_wh,
                evidence,
                _now(now_text),
                Thresholds.from_settings(get_settings(ctx)),
            )
        )
    click.echo(
        f"{result.verdict.value}: audit {register_wh} Wh, reported {result.reported_wh} Wh, "
        f"deviation {result.deviation_pct}% (tolerance {result.tolerance_pct}%)"
    )


@audit.command("amend")
@as_option
@click.option("--system", "system_id", required=True)
@click.option("--month", "month_text", required=True, metavar="YYYY-MM")
@click.option("--energy-wh", type=int, required=True, help="the month's energy after")
@click.option("--reason", required=True)
@click.option("--evidence", required=True)
@now_option
@click.pass_context
def amend(
    ctx: click.Context,
    account_id: str,
    system_id: str,
    month_text: str,
    energy_wh: int,
    reason: str,
    evidence: str,
    now_text: str | None,
) -> None:
    """Amend a closed month (append-only; the next export carries the adjustment)."""
    with _connection(ctx) as conn:
        admin = _acting(ctx, conn, account_id, "audit amend")
        amendment_id = _run(
            lambda: amend_month(
                conn,
                admin,
                system_id,
                month_text,
                energy_wh,
                reason,
                evidence,
                _now(now_text),
                Thresholds.from_settings(get_settings(ctx)),
            )
        )
    click.echo(f"amendment {amendment_id} recorded")


@click.group()
def srec() -> None:
    """NEPOOL GIS export and the certification report."""


@srec.command("export")
@click.argument("quarter")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@admin_as_option
@now_option
@click.pass_context
def export(
    ctx: click.Context, quarter: str, out: Path, account_id: str | None, now_text: str | None
) -> None:
    """Write the NEPOOL GIS upload (unitID,MM/YYYY,MWh) for a quarter, e.g. 2026Q3."""
    settings = get_settings(ctx)
    zone, thresholds = settings.default_timezone, Thresholds.from_settings(settings)
    with _connection(ctx) as conn:
        admin = _acting(ctx, conn, account_id, "srec export")
        content = _run(
            lambda: export_quarter(conn, quarter, admin, _now(now_text), zone, thresholds)
        )
    out.write_text(content)
    click.echo(f"{len(content.splitlines())} lines written to {out}")


@srec.command("report")
@click.option("--system", "system_id", default=None)
@as_option
@now_option
@click.pass_context
def srec_report(
    ctx: click.Context, system_id: str | None, account_id: str | None, now_text: str | None
) -> None:
    """Every certificate traced to the readings it came from, amendments included; times
    in each system's time zone. `--now` is accepted like everywhere (the report holds what
    is recorded; it does not depend on the time)."""
    _now(now_text)  # checked like every command's, so scripts may pass it throughout
    with _connection(ctx) as conn:
        viewer = _acting(ctx, conn, account_id, "srec report")  # shows what it may read
        text = _run(lambda: certification_report(conn, system_id, viewer))
    click.echo(text, nl=False)
