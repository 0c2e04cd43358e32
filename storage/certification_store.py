"""SQL for the certification tables (the rules live in certification/)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import psycopg
from psycopg.types.json import Jsonb


class AccountRow(NamedTuple):
    account_id: str
    role: str
    name: str
    email: str


class LastReading(NamedTuple):
    ts: datetime
    energy_wh: int
    event: str | None


class CloseSummary(NamedTuple):
    """A system-month as closed (`month_close`)."""

    energy_wh: int
    estimated: bool
    findings: list[dict[str, str]]
    certified_wh: int = 0  # the metered part of energy_wh (estimates excluded)
    held_by: tuple[str, ...] = ()  # finding codes holding it from minting and export


class ClosedEnergy(NamedTuple):
    """A closed system-month's energy (`closes_for`, `closes_until`)."""

    system_id: str
    month: str
    energy_wh: int
    estimated: bool
    certified_wh: int = 0  # the metered part of energy_wh (estimates excluded)
    held: bool = False  # held by a finding and not released yet


class ClosedMonthRow(NamedTuple):
    """A system's closed month with its per-meter detail (`closes_of`)."""

    month: str
    energy_wh: int
    estimated: bool
    meters: list[dict[str, Any]]
    certified_wh: int = 0  # the metered part of energy_wh (estimates excluded)
    held_by: tuple[str, ...] = ()  # finding codes holding it (released or not)


class ReleaseRow(NamedTuple):
    """The staff decision that released a held month (`month_releases`)."""

    release_id: int
    system_id: str
    month: str
    kind: str  # accepted_as_reported | amended
    amendment_id: int | None
    energy_wh: int
    reason: str
    released_by: str
    released_at: datetime


# a close's certifiable energy; closes made before migration 007 have no certified_wh
_CERTIFIED = "coalesce(certified_wh, CASE WHEN estimated THEN 0 ELSE energy_wh END)"
_HELD = (
    "((held_by <> '{}' AND NOT EXISTS (SELECT 1 FROM month_releases r "
    "WHERE r.system_id = c.system_id AND r.month = c.month)) OR EXISTS (SELECT 1 FROM "
    "month_holds_after_close h WHERE h.system_id = c.system_id AND h.month = c.month AND "
    "NOT EXISTS (SELECT 1 FROM amendments a WHERE a.system_id = h.system_id AND "
    "a.month = h.month AND a.amended_at >= h.held_at)))"
)


class LedgerRow(NamedTuple):
    system_id: str
    month: str
    entry: str
    mwh: Decimal
    factor: Decimal
    carry_in: Decimal
    minted: int
    carry_out: Decimal
    rec_owner_id: str | None = None  # whose certificates (migration 018)


class AmendmentRow(NamedTuple):
    amendment_id: int
    system_id: str
    month: str
    before_wh: int
    after_wh: int
    reason: str
    evidence: str
    amended_by: str
    amended_at: datetime
    exported_in: str | None


class UnexportedAmendment(NamedTuple):
    amendment_id: int
    system_id: str
    month: str
    before_wh: int
    after_wh: int


class AuditRow(NamedTuple):
    audit_id: int
    ts: datetime
    register_wh: int
    reported_wh: int | None
    deviation_wh: int | None
    deviation_pct: Decimal | None
    verdict: str


class ChangeRequestRow(NamedTuple):
    request_id: str
    system_id: str
    requested_by: str
    new_party_id: str  # the new REC Owner, representative or DAS provider
    document: str | None  # the transfer contract of a REC Owner change
    created_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    kind: str = "rec_owner"  # rec_owner | representative | das_provider

    @property
    def new_rec_owner_id(self) -> str:
        """The new party (named for the REC Owner change, the first kind)."""
        return self.new_party_id

    @property
    def transfer_contract(self) -> str | None:
        return self.document


def count_readings(
    conn: psycopg.Connection[Any], meter_id: str, first: datetime, last: datetime
) -> int:
    """How many readings the meter has in [first, last]."""
    row = conn.execute(
        "SELECT count(*) FROM readings_in_force WHERE meter_id = %s AND ts >= %s AND ts <= %s",
        (meter_id, first, last),
    ).fetchone()
    assert row is not None
    return int(row[0])


def closed_months(conn: psycopg.Connection[Any], month: str) -> set[str]:
    rows = conn.execute("SELECT system_id FROM month_closes WHERE month = %s", (month,))
    return {r[0] for r in rows.fetchall()}


def save_close(
    conn: psycopg.Connection[Any],
    system_id: str,
    month: str,
    energy_wh: int,
    estimated: bool,
    findings: list[dict[str, str]],
    meters: list[dict[str, Any]],
    closed_by: str,
    closed_at: datetime,
    certified_wh: int | None = None,
    held_by: tuple[str, ...] = (),
) -> None:
    """Store a system-month's close (`certified_wh` None: all of it unless estimated)."""
    if certified_wh is None:
        certified_wh = 0 if estimated else energy_wh
    conn.execute(
        "INSERT INTO month_closes (system_id, month, energy_wh, estimated, findings, meters, "
        "closed_by, closed_at, certified_wh, held_by) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            system_id,
            month,
            energy_wh,
            estimated,
            Jsonb(findings),
            Jsonb(meters),
            closed_by,
            closed_at,
            certified_wh,
            list(held_by),
        ),
    )


def month_close(conn: psycopg.Connection[Any], system_id: str, month: str) -> CloseSummary | None:
    row = conn.execute(
        f"SELECT energy_wh, estimated, findings, {_CERTIFIED}, held_by FROM month_closes "
        "WHERE system_id = %s AND month = %s",
        (system_id, month),
    ).fetchone()
    if row is None:
        return None
    return CloseSummary(int(row[0]), bool(row[1]), list(row[2]), int(row[3]), tuple(row[4]))


def amended_energy(conn: psycopg.Connection[Any], system_id: str, month: str) -> int | None:
    row = conn.execute(
        "SELECT after_wh FROM amendments WHERE system_id = %s AND month = %s "
        "ORDER BY amendment_id DESC LIMIT 1",
        (system_id, month),
    ).fetchone()
    return int(row[0]) if row else None


def add_amendment(
    conn: psycopg.Connection[Any],
    system_id: str,
    month: str,
    before_wh: int,
    after_wh: int,
    reason: str,
    evidence: str,
    amended_by: str,
    amended_at: datetime,
) -> int:
    row = conn.execute(
        "INSERT INTO amendments (system_id, month, before_wh, after_wh, reason, evidence, "
        "amended_by, amended_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING amendment_id",
        (system_id, month, before_wh, after_wh, reason, evidence, amended_by, amended_at),
    ).fetchone()
    assert row is not None
    return int(row[0])


def last_carry(conn: psycopg.Connection[Any], system_id: str, rec_owner_id: str) -> Decimal:
    """The fraction carried for the system's REC Owner `rec_owner_id` (its latest entry's)."""
    row = conn.execute(
        "SELECT carry_out FROM srec_ledger WHERE system_id = %s AND rec_owner_id = %s "
        "ORDER BY seq DESC LIMIT 1",
        (system_id, rec_owner_id),
    ).fetchone()
    return Decimal(row[0]) if row else Decimal(0)


def month_owner(conn: psycopg.Connection[Any], system_id: str, month: str) -> str | None:
    """The REC Owner of a system-month's first ledger entry (None: never credited)."""
    row = conn.execute(
        "SELECT rec_owner_id FROM srec_ledger WHERE system_id = %s AND month = %s "
        "ORDER BY seq LIMIT 1",
        (system_id, month),
    ).fetchone()
    return None if row is None else str(row[0])


def add_ledger(
    conn: psycopg.Connection[Any],
    system_id: str,
    month: str,
    entry: str,
    mwh: Decimal,
    factor: Decimal,
    carry_in: Decimal,
    minted: int,
    carry_out: Decimal,
    rec_owner_id: str,
) -> None:
    conn.execute(
        "INSERT INTO srec_ledger (system_id, month, entry, mwh, factor, carry_in, minted, "
        "carry_out, rec_owner_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (system_id, month, entry, mwh, factor, carry_in, minted, carry_out, rec_owner_id),
    )


def _ledger_row(r: tuple[Any, ...]) -> LedgerRow:
    return LedgerRow(
        r[0],
        r[1],
        r[2],
        Decimal(r[3]),
        Decimal(r[4]),
        Decimal(r[5]),
        int(r[6]),
        Decimal(r[7]),
        r[8],
    )


def ledger(conn: psycopg.Connection[Any]) -> list[LedgerRow]:
    rows = conn.execute(
        "SELECT system_id, month, entry, mwh, factor, carry_in, minted, carry_out, rec_owner_id "
        "FROM srec_ledger ORDER BY system_id, seq"
    ).fetchall()
    return [_ledger_row(r) for r in rows]


def closes_for(conn: psycopg.Connection[Any], months: list[str]) -> list[ClosedEnergy]:
    """Every system's close of the months given (energy as closed)."""
    rows = conn.execute(
        f"SELECT system_id, month, energy_wh, estimated, {_CERTIFIED}, {_HELD} "
        "FROM month_closes c WHERE month = ANY(%s) ORDER BY system_id, month",
        (months,),
    ).fetchall()
    return [ClosedEnergy(r[0], r[1], int(r[2]), bool(r[3]), int(r[4]), bool(r[5])) for r in rows]


def closes_until(conn: psycopg.Connection[Any], last_month: str) -> list[ClosedEnergy]:
    """Every system's closes of `last_month` and earlier (energy as closed)."""
    rows = conn.execute(
        f"SELECT system_id, month, energy_wh, estimated, {_CERTIFIED}, {_HELD} "
        "FROM month_closes c WHERE month <= %s ORDER BY system_id, month",
        (last_month,),
    ).fetchall()
    return [ClosedEnergy(r[0], r[1], int(r[2]), bool(r[3]), int(r[4]), bool(r[5])) for r in rows]


def exported_mwh(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], Decimal]:
    """(system_id, month) → the MWh every export so far sent for it (lines summed)."""
    rows = conn.execute(
        "SELECT system_id, month, sum(mwh) FROM gis_export_lines GROUP BY system_id, month"
    ).fetchall()
    return {(r[0], r[1]): Decimal(r[2]) for r in rows}


def add_export_lines(
    conn: psycopg.Connection[Any], quarter: str, lines: list[tuple[str, str, Decimal]]
) -> None:
    """(system_id, month, mwh) lines of a saved export."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO gis_export_lines (quarter, system_id, month, mwh) VALUES (%s, %s, %s, %s)",
            [(quarter, *line) for line in lines],
        )


def credited_mwh(conn: psycopg.Connection[Any], system_id: str, month: str) -> Decimal:
    """The MWh the SREC ledger has credited a system-month so far (entries summed)."""
    row = conn.execute(
        "SELECT coalesce(sum(mwh), 0) FROM srec_ledger WHERE system_id = %s AND month = %s",
        (system_id, month),
    ).fetchone()
    assert row is not None
    return Decimal(row[0])


def credited_months(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], Decimal]:
    """(system_id, month) → the MWh the SREC ledger has credited it (entries summed), for
    every system-month with a ledger entry; a month never credited has no key."""
    rows = conn.execute(
        "SELECT system_id, month, sum(mwh) FROM srec_ledger GROUP BY system_id, month"
    ).fetchall()
    return {(r[0], r[1]): Decimal(r[2]) for r in rows}


def release_of(conn: psycopg.Connection[Any], system_id: str, month: str) -> ReleaseRow | None:
    """The release of a held system-month, if staff made one."""
    row = conn.execute(
        "SELECT release_id, system_id, month, kind, amendment_id, energy_wh, reason, "
        "released_by, released_at FROM month_releases WHERE system_id = %s AND month = %s",
        (system_id, month),
    ).fetchone()
    if row is None:
        return None
    amendment = None if row[4] is None else int(row[4])
    return ReleaseRow(int(row[0]), row[1], row[2], row[3], amendment, int(row[5]), *row[6:])


def releases_of(conn: psycopg.Connection[Any], system_id: str) -> list[ReleaseRow]:
    """A system's releases of held months, in order."""
    rows = conn.execute(
        "SELECT release_id, system_id, month, kind, amendment_id, energy_wh, reason, "
        "released_by, released_at FROM month_releases WHERE system_id = %s ORDER BY release_id",
        (system_id,),
    ).fetchall()
    return [
        ReleaseRow(
            int(r[0]), r[1], r[2], r[3], None if r[4] is None else int(r[4]), int(r[5]), *r[6:]
        )
        for r in rows
    ]


def add_release(
    conn: psycopg.Connection[Any],
    system_id: str,
    month: str,
    kind: str,
    amendment_id: int | None,
    energy_wh: int,
    reason: str,
    by: str,
    at: datetime,
) -> int:
    """Record the release of a held month (append-only, once per system-month)."""
    row = conn.execute(
        "INSERT INTO month_releases (system_id, month, kind, amendment_id, energy_wh, reason, "
        "released_by, released_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "RETURNING release_id",
        (system_id, month, kind, amendment_id, energy_wh, reason, by, at),
    ).fetchone()
    assert row is not None
    return int(row[0])


def unexported_amendments(
    conn: psycopg.Connection[Any], months: list[str]
) -> list[UnexportedAmendment]:
    """Amendments of the quarter's months or earlier ones, not yet carried by an export."""
    rows = conn.execute(
        "SELECT amendment_id, system_id, month, before_wh, after_wh FROM amendments "
        "WHERE exported_in IS NULL AND month <= %s ORDER BY amendment_id",
        (max(months),),
    ).fetchall()
    return [UnexportedAmendment(int(r[0]), r[1], r[2], int(r[3]), int(r[4])) for r in rows]


def mark_exported(conn: psycopg.Connection[Any], amendment_ids: list[int], quarter: str) -> None:
    conn.execute(
        "UPDATE amendments SET exported_in = %s WHERE amendment_id = ANY(%s)",
        (quarter, amendment_ids),
    )


def save_export(
    conn: psycopg.Connection[Any], quarter: str, content: str, by: str, at: datetime
) -> None:
    conn.execute(
        "INSERT INTO gis_exports (quarter, content, exported_by, exported_at) "
        "VALUES (%s, %s, %s, %s)",
        (quarter, content, by, at),
    )


def upsert_accounts(conn: psycopg.Connection[Any], rows: list[tuple[str, str, str, str]]) -> None:
    """(account_id, role, name, email) rows."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO accounts (account_id, role, name, email) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (account_id) DO UPDATE SET role = EXCLUDED.role, name = EXCLUDED.name, "
            "email = EXCLUDED.email",
            rows,
        )


def get_account(conn: psycopg.Connection[Any], account_id: str) -> AccountRow | None:
    row = conn.execute(
        "SELECT account_id, role, name, email FROM accounts WHERE account_id = %s", (account_id,)
    ).fetchone()
    return None if row is None else AccountRow(row[0], row[1], row[2], row[3])


def account_contacts(conn: psycopg.Connection[Any]) -> dict[str, tuple[str, str]]:
    """account_id → (name, email)."""
    rows = conn.execute("SELECT account_id, name, email FROM accounts").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def upsert_approved_models(conn: psycopg.Connection[Any], rows: list[tuple[str, str]]) -> None:
    """(model, accuracy_class) rows."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO approved_meter_models (model, accuracy_class) VALUES (%s, %s) "
            "ON CONFLICT (model) DO UPDATE SET accuracy_class = EXCLUDED.accuracy_class",
            rows,
        )


def approved_models(conn: psycopg.Connection[Any]) -> dict[str, str]:
    rows = conn.execute("SELECT model, accuracy_class FROM approved_meter_models").fetchall()
    return {r[0]: r[1] for r in rows}


def last_reading(conn: psycopg.Connection[Any], meter_id: str) -> LastReading | None:
    """The meter's latest reading in force (withdrawn ones are not, migration 020)."""
    row = conn.execute(
        "SELECT ts, energy_wh, event FROM readings_in_force WHERE meter_id = %s "
        "ORDER BY ts DESC LIMIT 1",
        (meter_id,),
    ).fetchone()
    return None if row is None else LastReading(row[0], int(row[1]), row[2])


def add_manual_report(
    conn: psycopg.Connection[Any],
    meter_id: str,
    ts: datetime,
    month: str,
    photo_ref: str | None,
    meter_replacement: bool,
    by: str,
    at: datetime,
) -> None:
    conn.execute(
        "INSERT INTO manual_reports (meter_id, ts, month, photo_ref, meter_replacement, "
        "submitted_by, submitted_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (meter_id, ts, month, photo_ref, meter_replacement, by, at),
    )


class HoldAfterClose(NamedTuple):
    """A closed system-month held by a finding made after its close (migration 017)."""

    month: str
    code: str
    detail: str
    held_at: datetime
    released: bool  # an amendment made at or after `held_at` states the month


def add_hold_after_close(
    conn: psycopg.Connection[Any],
    system_id: str,
    month: str,
    code: str,
    detail: str,
    audit_id: int | None,
    at: datetime,
) -> None:
    """Hold a closed system-month from export until an amendment made from `at` on."""
    conn.execute(
        "INSERT INTO month_holds_after_close (system_id, month, code, detail, audit_id, "
        "held_at) VALUES (%s, %s, %s, %s, %s, %s)",
        (system_id, month, code, detail, audit_id, at),
    )


def holds_after_close(conn: psycopg.Connection[Any], system_id: str) -> list[HoldAfterClose]:
    """A system's holds made after a close, in order."""
    rows = conn.execute(
        "SELECT h.month, h.code, h.detail, h.held_at, EXISTS (SELECT 1 FROM amendments a "
        "WHERE a.system_id = h.system_id AND a.month = h.month AND a.amended_at >= h.held_at) "
        "FROM month_holds_after_close h WHERE h.system_id = %s ORDER BY h.hold_id",
        (system_id,),
    ).fetchall()
    return [HoldAfterClose(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


def add_audit(conn: psycopg.Connection[Any], row: dict[str, Any]) -> int:
    found = conn.execute(
        "INSERT INTO audit_readings (meter_id, ts, register_wh, audited_by, evidence, "
        "reported_wh, deviation_wh, deviation_pct, tolerance_pct, verdict, recorded_at) VALUES "
        "(%(meter_id)s, %(ts)s, %(register_wh)s, %(audited_by)s, %(evidence)s, %(reported_wh)s,"
        " %(deviation_wh)s, %(deviation_pct)s, %(tolerance_pct)s, %(verdict)s, %(recorded_at)s)"
        " RETURNING audit_id",
        row,
    ).fetchone()
    assert found is not None
    return int(found[0])


def audits(conn: psycopg.Connection[Any], meter_id: str) -> list[AuditRow]:
    rows = conn.execute(
        "SELECT audit_id, ts, register_wh, reported_wh, deviation_wh, deviation_pct, verdict "
        "FROM audit_readings WHERE meter_id = %s ORDER BY audit_id",
        (meter_id,),
    ).fetchall()
    return [
        AuditRow(
            int(r[0]),
            r[1],
            int(r[2]),
            None if r[3] is None else int(r[3]),
            None if r[4] is None else int(r[4]),
            None if r[5] is None else Decimal(r[5]),
            r[6],
        )
        for r in rows
    ]


def save_change_request(conn: psycopg.Connection[Any], row: ChangeRequestRow) -> None:
    conn.execute(
        "INSERT INTO change_requests (request_id, system_id, requested_by, new_party_id, "
        "document, created_at, status, decided_by, decided_at, kind) VALUES (%(request_id)s,"
        " %(system_id)s, %(requested_by)s, %(new_party_id)s, %(document)s, %(created_at)s, "
        "%(status)s, %(decided_by)s, %(decided_at)s, %(kind)s) ON CONFLICT (request_id) "
        "DO UPDATE SET status = EXCLUDED.status, decided_by = EXCLUDED.decided_by, "
        "decided_at = EXCLUDED.decided_at",
        row._asdict(),
    )


def change_requests(conn: psycopg.Connection[Any], system_id: str) -> list[ChangeRequestRow]:
    rows = conn.execute(
        "SELECT request_id, system_id, requested_by, new_party_id, document, "
        "created_at, status, decided_by, decided_at, kind FROM change_requests "
        "WHERE system_id = %s ORDER BY created_at",
        (system_id,),
    ).fetchall()
    return [ChangeRequestRow(*r) for r in rows]


def amendments(conn: psycopg.Connection[Any], system_id: str) -> list[AmendmentRow]:
    """A system's amendments in order."""
    rows = conn.execute(
        "SELECT amendment_id, system_id, month, before_wh, after_wh, reason, evidence, "
        "amended_by, amended_at, exported_in FROM amendments WHERE system_id = %s "
        "ORDER BY amendment_id",
        (system_id,),
    ).fetchall()
    return [
        AmendmentRow(int(r[0]), r[1], r[2], int(r[3]), int(r[4]), r[5], r[6], r[7], r[8], r[9])
        for r in rows
    ]


def closes_of(conn: psycopg.Connection[Any], system_id: str) -> list[ClosedMonthRow]:
    """A system's closed months in order."""
    rows = conn.execute(
        f"SELECT month, energy_wh, estimated, meters, {_CERTIFIED}, held_by FROM month_closes "
        "WHERE system_id = %s ORDER BY month",
        (system_id,),
    ).fetchall()
    return [
        ClosedMonthRow(r[0], int(r[1]), bool(r[2]), list(r[3]), int(r[4]), tuple(r[5]))
        for r in rows
    ]


def history(conn: psycopg.Connection[Any], system_id: str, month: str) -> list[int]:
    """What the same calendar month stated in earlier years: its latest amendment, else its
    certified energy when it was neither estimated nor held (and not released)."""
    rows = conn.execute(
        "SELECT stated FROM (SELECT month, coalesce((SELECT after_wh FROM amendments a "
        "WHERE a.system_id = c.system_id AND a.month = c.month ORDER BY amendment_id DESC "
        f"LIMIT 1), CASE WHEN NOT estimated AND NOT {_HELD} THEN {_CERTIFIED} END) AS stated "
        "FROM month_closes c WHERE system_id = %s AND month < %s AND substr(month, 6, 2) = %s"
        ") t WHERE stated IS NOT NULL ORDER BY month",
        (system_id, month, month[5:]),
    ).fetchall()
    return [int(r[0]) for r in rows]


def ledger_of(conn: psycopg.Connection[Any], system_id: str) -> list[LedgerRow]:
    rows = conn.execute(
        "SELECT system_id, month, entry, mwh, factor, carry_in, minted, carry_out, rec_owner_id "
        "FROM srec_ledger WHERE system_id = %s ORDER BY seq",
        (system_id,),
    ).fetchall()
    return [_ledger_row(r) for r in rows]


def exported_quarters(conn: psycopg.Connection[Any]) -> set[str]:
    return {r[0] for r in conn.execute("SELECT quarter FROM gis_exports").fetchall()}


def count_readings_in(
    conn: psycopg.Connection[Any], spans: list[tuple[str, datetime, datetime]]
) -> list[int]:
    """For each (meter_id, first, last): how many readings the meter has in [first, last]
    (one query for all of them)."""
    if not spans:
        return []
    rows = conn.execute(
        "SELECT (SELECT count(*) FROM readings_in_force r WHERE r.meter_id = q.m "
        "AND r.ts >= q.lo AND r.ts <= q.hi) "
        "FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) "
        "WITH ORDINALITY AS q(m, lo, hi, n) ORDER BY q.n",
        ([s[0] for s in spans], [s[1] for s in spans], [s[2] for s in spans]),
    ).fetchall()
    return [int(r[0]) for r in rows]


class LateCheck(NamedTuple):
    """What a late-readings check found for one meter of a closed month (migration 018)."""

    system_id: str
    month: str
    meter_id: str
    readings: int  # readings in the close's bounds [first, last]
    energy_wh: int  # what they count
    held: bool
    checked_by: str
    checked_at: datetime


def late_baselines(
    conn: psycopg.Connection[Any], system_ids: list[str]
) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(system_id, month, meter_id) → (readings, energy_wh) of the latest check."""
    rows = conn.execute(
        "SELECT DISTINCT ON (system_id, month, meter_id) system_id, month, meter_id, readings, "
        "energy_wh FROM late_reading_checks WHERE system_id = ANY(%s) "
        "ORDER BY system_id, month, meter_id, check_id DESC",
        (system_ids,),
    ).fetchall()
    return {(r[0], r[1], r[2]): (int(r[3]), int(r[4])) for r in rows}


def add_late_checks(conn: psycopg.Connection[Any], checks: list[LateCheck]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO late_reading_checks (system_id, month, meter_id, readings, energy_wh, "
            "held, checked_by, checked_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            list(checks),
        )


def month_factor(conn: psycopg.Connection[Any], system_id: str, month: str) -> Decimal | None:
    """The SREC factor of a system-month's first ledger entry (None: never credited)."""
    row = conn.execute(
        "SELECT factor FROM srec_ledger WHERE system_id = %s AND month = %s ORDER BY seq LIMIT 1",
        (system_id, month),
    ).fetchone()
    return None if row is None else Decimal(row[0])


def meter_closed_through(
    conn: psycopg.Connection[Any], meter_id: str, system_id: str
) -> str | None:
    """The latest month of `system_id` whose close counted the meter (None: none did)."""
    row = conn.execute(
        "SELECT max(month) FROM month_closes WHERE system_id = %s AND meters @> %s",
        (system_id, Jsonb([{"meter_id": meter_id}])),
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])
