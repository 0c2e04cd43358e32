"""A reading entered by mistake, withdrawn or corrected by the System Representative while
its window is open (migration 020, certification.withdrawals): the portal's one step, the
API, who may, until when, and that every consumer then counts the right reading only.

The story (Maple Street roof, S1: 8 kW DC, factor 1, America/New_York): the meter read
1,100.0 kWh at midnight starting 1 October; at midnight starting 1 November it read
2,345.6 kWh, but Rita typed 3,345.6. October therefore produced 1,245.6 kWh exactly
(1,245,600 Wh: both readings sit on October's local midnights, nothing is interpolated),
which mints 1 certificate and carries 0.246 MWh, and goes to NEPOOL GIS as 1.246 MWh; the
typo would have made it 2,245.6 kWh and 2 certificates.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from certification.manual_reports import ManualReport
from certification.month_close import Thresholds
from certification.roles import Account, Role
from certification.workflows.check_provenance import check_provenance, render
from certification.workflows.close_month import close_month
from certification.workflows.export_quarter import draft_export
from certification.workflows.submit_report import submit_manual_report
from storage import certification_store as cstore
from storage.energy_store import monthly_totals
from tests.integration.storage import test_service_roles as roles
from tests.integration.web.support import (
    ADMIN,
    OWNER,
    REC_OWNER,
    REP,
    Clock,
    api_token,
    csrf_of,
    sign_in,
)

pytestmark = [pytest.mark.integration]
login = roles.login  # the fixture: a password login in a service role

OCT_1 = datetime(2026, 10, 1, 4, tzinfo=UTC)  # 00:00 EDT, inside September's window
NOV_1 = datetime(2026, 11, 1, 4, tzinfo=UTC)  # 00:00 EDT, inside October's window
IN_OCTOBER_WINDOW = datetime(2026, 11, 2, 15, tzinfo=UTC)
AFTER_OCTOBER_WINDOW = datetime(2026, 11, 6, 15, tzinfo=UTC)
TRUE_WH, TYPO_WH = 2_345_600, 3_345_600


def plain(page: Any) -> str:
    """A page's text as the eye reads it: tags dropped, entities decoded, white space single."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page.text)).split())


def enter(url: str, kwh_wh: int, at: datetime, now: datetime) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        submit_manual_report(conn, REP, ManualReport("M1", kwh_wh, at), now, Decimal(10))


@pytest.fixture
def typo(seeded_db: str, clock: Clock) -> str:
    """October's start read right, its end mistyped; the clock inside October's window."""
    enter(seeded_db, 1_100_000, OCT_1, datetime(2026, 10, 2, 16, tzinfo=UTC))
    enter(seeded_db, TYPO_WH, NOV_1, IN_OCTOBER_WINDOW)
    clock.now = IN_OCTOBER_WINDOW
    return seeded_db


def send(client: TestClient, path: str, **fields: str) -> Any:
    page = client.get("/systems/S1/report")
    return client.post(path, data={**fields, "csrf_token": csrf_of(page.text)})


def report(client: TestClient, kwh: str, day: str, time: str) -> Any:
    return send(
        client, "/systems/S1/report", meter_id="M1", register_kwh=kwh, read_on=day, read_time=time
    )


def correct(client: TestClient, kwh: str, reason: str = "typed a 3 for a 2") -> Any:
    return send(
        client,
        "/systems/S1/readings/correct",
        meter_id="M1",
        ts=NOV_1.isoformat(),
        register_kwh=kwh,
        reason=reason,
    )


def october_wh(url: str) -> int:
    with psycopg.connect(url) as conn:
        return monthly_totals(conn)[("M1", "2026-10")]


def test_a_typo_corrected_in_one_step_counts_exactly_and_mints_right(
    client: TestClient, typo: str, clock: Clock
) -> None:
    """The true reading of 2 November is refused against the typo; Rita corrects the typo
    (both numbers confirmed), the 2 November reading is then accepted, October's energy is
    exactly 1,245,600 Wh and its close mints 1 certificate, carrying 0.246."""
    assert october_wh(typo) == 2_245_600  # what the typo would count
    sign_in(client, REP)
    refused = report(client, "2400", "2026-11-02", "09:00")
    assert refused.status_code == 422, plain(refused)[-1500:]
    assert "2,400.0 kWh is lower than your last reading, 3,345.6 kWh" in plain(refused), plain(
        refused
    )[-2500:]

    done = correct(client, "2345.6")
    assert done.status_code == 200
    assert (
        "Corrected. Your reading taken Sun 01 Nov 2026, 00:00 EDT was 3,345.6 kWh; it is now "
        "2,345.6 kWh." in plain(done)
    )
    assert october_wh(typo) == 1_245_600
    assert report(client, "2400", "2026-11-02", "09:00").status_code == 200

    clock.now = AFTER_OCTOBER_WINDOW
    with psycopg.connect(typo, autocommit=True) as conn:
        closed = close_month(
            conn, "2026-10", Account(ADMIN, Role.ADMIN), AFTER_OCTOBER_WINDOW, Thresholds()
        )
        ledger = [e for e in cstore.ledger_of(conn, "S1") if e.month == "2026-10"]
    assert [
        (s.energy_wh, s.minted, s.carry_out) for s in closed.systems if s.system.system_id == "S1"
    ] == [(1_245_600, 1, Decimal("0.246"))]
    assert [(e.mwh, e.minted) for e in ledger] == [(Decimal("1.246"), 1)]
    with psycopg.connect(typo) as conn:
        traced = render(check_provenance(conn, "S1", "2026-10", AFTER_OCTOBER_WINDOW))
        gis = draft_export(conn, "2026Q4", Account(ADMIN, Role.ADMIN))
    assert gis == "NON1,10/2026,1.246\n"
    assert "bound 2026-11-01T04:00:00+00:00 2345600 Wh" in traced
    assert (
        "finding [reading_withdrawn] the manual reading at 2026-11-01T04:00:00+00:00 of "
        "3345600 Wh was withdrawn by rep-1 at 2026-11-02T15:00:00+00:00 (typed a 3 for a 2); "
        "2345600 Wh counted in its place"
    ) in traced


def test_the_withdrawal_is_its_own_record_and_the_original_stays(
    client: TestClient, typo: str
) -> None:
    """The mistyped row stays in `readings`; the withdrawal says who, when, why and what."""
    sign_in(client, REP)
    assert correct(client, "2345.6").status_code == 200
    with psycopg.connect(typo) as conn:
        raw = conn.execute(
            "SELECT energy_wh FROM readings WHERE meter_id = 'M1' AND ts = %s", (NOV_1,)
        ).fetchall()
        record = conn.execute(
            "SELECT withdrawn_wh, replacement_wh, month, reason, withdrawn_by, withdrawn_at "
            "FROM reading_withdrawals"
        ).fetchall()
    assert raw == [(TYPO_WH,)]
    assert record == [(TYPO_WH, TRUE_WH, "2026-10", "typed a 3 for a 2", REP, IN_OCTOBER_WINDOW)]


def test_withdrawn_without_a_new_number_the_next_report_is_checked_against_the_one_before(
    client: TestClient, typo: str
) -> None:
    """Withdrawn alone, the typo is gone: the reading before it is the last one again."""
    sign_in(client, REP)
    page = send(
        client, "/systems/S1/readings/withdraw", meter_id="M1", ts=NOV_1.isoformat(), reason="typo"
    )
    assert page.status_code == 200
    assert "Withdrawn. Your reading of 3,345.6 kWh taken Sun 01 Nov 2026, 00:00 EDT" in plain(page)
    with psycopg.connect(typo) as conn:
        totals = monthly_totals(conn)
        last = cstore.last_reading(conn, "M1")
    assert totals[("M1", "2026-10")] == 0  # no reading after 1 October counts any more
    assert last is not None
    assert (last.ts, last.energy_wh) == (OCT_1, 1_100_000)
    assert report(client, "2345.6", "2026-11-01", "00:00").status_code == 422  # instant taken
    accepted = report(client, "2400", "2026-11-02", "09:00")
    assert accepted.status_code == 200


def test_after_the_window_closes_only_staff_amend(
    client: TestClient, typo: str, clock: Clock
) -> None:
    clock.now = AFTER_OCTOBER_WINDOW
    sign_in(client, REP)
    page = correct(client, "2345.6")
    assert page.status_code == 422
    assert (
        "October 2026's reporting window has closed, so this reading can no longer be changed "
        "here. Ask PTS staff" in plain(page)
    )
    assert october_wh(typo) == 2_245_600


def test_after_the_month_is_closed_even_staff_amend_instead(seeded_db: str, clock: Clock) -> None:
    """A closed month changes only through an amendment: the API refuses with month_closed."""
    enter(seeded_db, 1_100_000, OCT_1, datetime(2026, 10, 2, 16, tzinfo=UTC))
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        cstore.save_close(conn, "S1", "2026-09", 0, False, [], [], ADMIN, AFTER_OCTOBER_WINDOW)
    clock.now = datetime(2026, 10, 3, 15, tzinfo=UTC)  # September's window still open
    from tests.integration.web.support import make_app

    with TestClient(make_app(seeded_db, clock)) as api:
        token = api_token(seeded_db, ADMIN)
        answer = api.post(
            "/api/v1/systems/S1/readings/withdrawals",
            json={"meter_id": "M1", "ts": OCT_1.isoformat(), "reason": "typo"},
            headers={"authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 409
    assert answer.json()["code"] == "month_closed"


@pytest.mark.parametrize("who", [OWNER, REC_OWNER])
def test_owners_cannot_withdraw_and_are_told_who_can(
    client: TestClient, typo: str, who: str
) -> None:
    sign_in(client, who)
    page = correct(client, "2345.6")
    assert page.status_code == 403
    assert "Only the System Representative, Rita Rep (rep-1)," in plain(page)
    assert october_wh(typo) == 2_245_600


def test_the_api_corrects_and_lists_withdrawals(client: TestClient, typo: str) -> None:
    token = api_token(typo, REP)
    auth = {"authorization": f"Bearer {token}"}
    made = client.post(
        "/api/v1/systems/S1/readings/withdrawals",
        json={
            "meter_id": "M1",
            "ts": NOV_1.isoformat(),
            "reason": "typo",
            "corrected_register_wh": TRUE_WH,
        },
        headers=auth,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["withdrawn_wh"], body["replacement_wh"], body["month"]) == (
        TYPO_WH,
        TRUE_WH,
        "2026-10",
    )
    listed = client.get("/api/v1/systems/S1/readings/withdrawals", headers=auth).json()
    assert [(w["withdrawn_wh"], w["replacement_wh"], w["withdrawn_by"]) for w in listed] == [
        (TYPO_WH, TRUE_WH, REP)
    ]
    readings = client.get("/api/v1/systems/S1/readings", headers=auth).json()["items"]
    assert [(r["ts"], r["energy_wh"]) for r in readings][:1] == [("2026-11-01T04:00:00Z", TRUE_WH)]
    assert october_wh(typo) == 1_245_600


def test_an_automatic_reading_cannot_be_withdrawn(seeded_db: str, clock: Clock) -> None:
    """A gateway reading of S3 (stored by the stream's writer): even staff are refused."""
    from schemas.reading import Reading, Source
    from stream.rollup_refresh import write_with_rollups
    from tests.integration.web.support import make_app

    at = datetime(2026, 10, 30, 12, tzinfo=UTC)
    gateway = Reading(
        meter_id="M3",
        ts=at,
        energy_wh=5_000_000,
        source=Source.GATEWAY,
        source_id="gw-1",
        seq=1,
        received_at=at,
    )
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        write_with_rollups(conn, [gateway])
    with TestClient(make_app(seeded_db, clock)) as api:
        answer = api.post(
            "/api/v1/systems/S3/readings/withdrawals",
            json={"meter_id": "M3", "ts": at.isoformat(), "reason": "looks wrong"},
            headers={"authorization": f"Bearer {api_token(seeded_db, ADMIN)}"},
        )
    assert answer.status_code == 422
    assert answer.json()["code"] == "not_a_manual_reading"


def test_the_web_login_withdraws_only_through_the_function(
    typo: str, login: roles.Login, seeded_db: str
) -> None:
    """pts_web may not write reading_withdrawals (nor change readings); through
    pts_withdraw_manual_reading it withdraws a manual reading, and a gateway reading never."""
    from schemas.reading import Reading, Source
    from stream.rollup_refresh import write_with_rollups

    at = datetime(2026, 10, 30, 12, tzinfo=UTC)
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        write_with_rollups(
            conn,
            [
                Reading(
                    meter_id="M3", ts=at, energy_wh=5_000_000, source=Source.GATEWAY,
                    source_id="gw-1", seq=1, received_at=at,
                )
            ],
        )  # fmt: skip
    web = roles.on(seeded_db, login("pts_web"))
    assert (
        roles.refused(
            web,
            [
                "INSERT INTO reading_withdrawals (meter_id, ts, withdrawn_wh, month, reason, "
                "withdrawn_by, withdrawn_at) VALUES ('M1', now(), 0, '2026-10', 'x', 'x', now())",
                "UPDATE reading_withdrawals SET reason = 'x'",
                "DELETE FROM readings WHERE meter_id = 'M1'",
            ],
        )
        == ["UPDATE reading_withdrawals SET reason = 'x'"]  # a no-op by rule: 0 rows
    )
    call = "SELECT pts_withdraw_manual_reading(%s, %s, %s, NULL, '2026-10', 'typo', 'rep-1', now())"
    with psycopg.connect(web, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(call, ("M3", at, 5_000_000))
        made = conn.execute(call, ("M1", NOV_1, TYPO_WH)).fetchone()
    assert made is not None
    with psycopg.connect(seeded_db) as conn:
        assert conn.execute("SELECT count(*) FROM reading_withdrawals").fetchone() == (1,)
    analyst = roles.on(seeded_db, login("pts_analyst"))
    with psycopg.connect(analyst) as conn:
        seen = conn.execute(
            "SELECT system_id, local_ts, withdrawn_wh, replacement_wh, reason "
            "FROM analyst_reading_withdrawals"
        ).fetchall()
    assert seen == [("S1", datetime(2026, 11, 1), TYPO_WH, None, "typo")]
