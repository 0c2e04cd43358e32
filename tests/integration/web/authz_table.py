"""The authorization matrix: one table of every caller × endpoint × system → HTTP status.

`test_authorization_matrix` requests every cell against the real app and database;
docs/web.md prints the same table (`markdown()`), checked by `test_docs_print_the_matrix`.

"own" is S1, the System Owner owner-1's system (REC Owner buyer-9, Representative rep-1);
"other" is S2, owner-2's system, on which those three hold no role. Bodies are chosen so that
a caller the rules let through is refused by a later rule (422) instead of changing state:
the cell then proves the authorization without depending on the order cells run in.
"""

from __future__ import annotations

from dataclasses import dataclass

CALLERS = (
    "anonymous",
    "owner",
    "other owner",
    "REC owner",
    "representative",
    "admin",
    "DAS provider",
)
ACCOUNTS = {
    "owner": "owner-1",
    "other owner": "owner-2",
    "REC owner": "buyer-9",
    "representative": "rep-1",
    "admin": "staff",
    "DAS provider": "sunny",
}
SYSTEMS = {
    "own": {"s": "S1", "m": "M1", "rec": "buyer-9", "rep": "rep-1"},
    "other": {"s": "S2", "m": "M2", "rec": "owner-2", "rep": "rep-2"},
}


@dataclass(frozen=True, slots=True)
class Row:
    method: str
    path: str  # {s}: the system id
    body: str | None  # JSON template: {s}, {m} (its meter), {rec} (its REC Owner)
    own: str  # statuses in CALLERS order for S1 (or for an endpoint without a system)
    other: str | None = None  # the same for S2; None when the endpoint names no system

    def statuses(self, which: str) -> dict[str, int]:
        text = self.own if which == "own" else self.other
        assert text is not None
        return dict(zip(CALLERS, (int(x) for x in text.split()), strict=True))


CLOSED_MONTH = "2026-08"  # closed for both systems before the matrix runs
REPORT = '{{"meter_id": "{m}", "register_wh": 5000000, "read_at": "2026-10-01T12:00:00Z"}}'
# a reading nobody entered: a caller the rules let withdraw learns there is none (404)
WITHDRAW = '{{"meter_id": "{m}", "ts": "2026-10-01T12:00:00Z", "reason": "typo"}}'
REC_CHANGE = '{{"new_rec_owner_id": "{rec}", "transfer_contract": "contract-1.pdf"}}'
# the system's own representative (same_representative); a provider for a manual system
REP_CHANGE = '{{"kind": "representative", "new_party_id": "{rep}"}}'
DAS_CHANGE = '{{"kind": "das_provider", "new_party_id": "sunny"}}'

TABLE: list[Row] = [
    # statuses in CALLERS order: anonymous owner other-owner REC-owner representative admin
    # DAS-provider (sunny reports S3, an automatic system: it holds no role on S1 or S2)
    Row("GET", "/api/v1/me", None, "401 200 200 200 200 200 200"),
    Row("POST", "/api/v1/me/tokens", '{{"label": "x"}}', "401 201 201 201 201 201 201"),
    Row("GET", "/api/v1/systems", None, "401 200 200 200 200 200 200"),
    Row(
        "GET",
        "/api/v1/systems/{s}",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row(
        "GET",
        "/api/v1/systems/{s}/meters",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row(
        "GET",
        "/api/v1/systems/{s}/readings",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row(
        "GET",
        "/api/v1/systems/{s}/production/monthly",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row(
        "GET",
        "/api/v1/systems/{s}/window",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row(
        "POST",
        "/api/v1/systems/{s}/manual-reports",
        REPORT,
        "401 403 404 403 422 403 404",
        "401 404 403 404 404 403 404",
    ),
    Row(
        "POST",
        "/api/v1/systems/{s}/readings/withdrawals",
        WITHDRAW,
        "401 403 404 403 404 404 404",
        "401 404 403 404 404 404 404",
    ),
    Row(
        "GET",
        "/api/v1/systems/{s}/readings/withdrawals",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row(
        "GET",
        "/api/v1/systems/{s}/change-requests",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row(
        "POST",
        "/api/v1/systems/{s}/change-requests",
        REC_CHANGE,
        "401 422 404 422 403 403 404",
        "401 404 422 404 404 403 404",
    ),
    Row(
        "POST",
        "/api/v1/systems/{s}/change-requests",
        REP_CHANGE,
        "401 422 404 403 403 403 404",
        "401 404 422 404 404 403 404",
    ),
    Row(
        "POST",
        "/api/v1/systems/{s}/change-requests",
        DAS_CHANGE,
        "401 422 404 403 403 403 404",
        "401 404 422 404 404 403 404",
    ),
    Row(
        "GET",
        "/api/v1/systems/{s}/srec-ledger",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row(
        "GET",
        "/api/v1/systems/{s}/certification-report",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row("GET", "/api/v1/month-closes?month=2026-09", None, "401 403 403 403 403 200 403"),
    Row("POST", "/api/v1/month-closes", '{{"month": "2026-10"}}', "401 403 403 403 403 422 403"),
    Row(
        "POST",
        "/api/v1/accounts",
        '{{"account_id": "new-1", "role": "nope"}}',
        "401 403 403 403 403 422 403",
    ),
    Row(
        "GET",
        "/api/v1/systems/{s}/production/daily?month=2026-10",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row(
        "GET",
        "/api/v1/systems/{s}/amendments",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row("GET", "/api/v1/write-log", None, "401 403 403 403 403 200 403"),
    # August is closed for S1 and S2 (CLOSED_MONTH): a reader gets its provenance report
    Row(
        "GET",
        "/api/v1/systems/{s}/provenance/2026-08",
        None,
        "401 200 404 200 200 200 404",
        "401 404 200 404 404 200 404",
    ),
    Row("GET", "/systems/{s}", None, "303 200 404 200 200 200 404", "303 404 200 404 404 200 404"),
    Row(
        "GET",
        "/systems/{s}/report",
        None,
        "303 200 404 200 200 200 404",
        "303 404 200 404 404 200 404",
    ),
    Row("GET", "/admin", None, "303 403 403 403 403 200 403"),
    # a quarter not exported: only an admin gets as far as "not found"
    Row("GET", "/admin/gis-exports/2026Q2", None, "303 403 403 403 403 404 403"),
    # a report nobody sent: signed-in callers learn nothing (404), anonymous 401
    Row("GET", "/api/v1/das/reports/nosuchreport", None, "401 404 404 404 404 404 404"),
]


KINDS = {REC_CHANGE: " (REC Owner)", REP_CHANGE: " (representative)", DAS_CHANGE: " (DAS provider)"}


def markdown() -> str:
    """The table as docs/web.md prints it."""
    lines = [
        "| endpoint | system | " + " | ".join(CALLERS) + " |",
        "|---|---|" + "---|" * len(CALLERS),
    ]
    for row in TABLE:
        for which in ("own", "other") if row.other else ("own",):
            system = which if row.other else "—"
            cells = " | ".join(str(v) for v in row.statuses(which).values())
            kind = KINDS.get(row.body or "", "")
            lines.append(f"| `{row.method} {row.path}`{kind} | {system} | {cells} |")
    return "\n".join(lines) + "\n"
