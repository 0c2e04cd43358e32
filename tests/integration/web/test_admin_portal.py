"""The admin's portal forms beyond the queue: the final NEPOOL GIS export and its file, site
audits (certification/workflows/record_audit.py), and the owner's requests for a new System
Representative or DAS provider (in-process client; the browser runs the same in
test_browser.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient

from schemas.reading import Reading, Source
from storage.writer import write_readings
from tests.integration.web.support import (
    ADMIN,
    OWNER,
    REC_OWNER,
    close_and_credit,
    csrf_of,
    sign_in,
)

NY = ZoneInfo("America/New_York")


def shown(html: str, element_id: str) -> str:
    """The text of the element with `element_id` (tags dropped, spaces collapsed)."""
    found = re.search(rf'id="{element_id}">(.*?)</p>', html, re.S)
    assert found is not None, f"no #{element_id} on the page"
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


def _manual(ts: datetime, wh: int) -> Reading:
    return Reading(
        meter_id="M1", ts=ts, energy_wh=wh, source=Source.MANUAL, source_id="rep-1", seq=wh,
        received_at=ts,
    )  # fmt: skip


def test_the_admin_records_a_site_audit(client: TestClient, seeded_db: str) -> None:
    """Readings 1,000 kWh on Sep 30 and 1,300 kWh on Oct 29 (local noon); the audit reads
    1,156 kWh on Oct 15 noon: consistent within ±2%, kept in audit_readings; a meter that
    does not exist is refused on the page with the reason; an owner may not audit."""
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        write_readings(
            conn,
            [_manual(datetime(2026, 9, 30, 12, tzinfo=NY), 1_000_000),
             _manual(datetime(2026, 10, 29, 12, tzinfo=NY), 1_300_000)],
        )  # fmt: skip
    sign_in(client, ADMIN)
    token = csrf_of(client.get("/admin").text)
    form = {
        "meter_id": "M1",
        "register_kwh": "1156",
        "read_on": "2026-10-15",
        "read_time": "12:00",
        "evidence": "site-visit-7.jpg",
        "csrf_token": token,
    }
    done = client.post("/admin/audits", data=form)
    assert done.status_code == 200
    assert shown(done.text, "audit-result") == (
        "Audit of meter M1 at Thu 15 Oct 2026, 12:00 EDT: consistent: read 1,156.0 kWh, "
        "reported 1,155.2 kWh, deviation 0.53% (tolerance 2.0%)."
    )
    unknown = client.post("/admin/audits", data={**form, "meter_id": "M9"})
    assert unknown.status_code == 422
    assert "The audit was not recorded: no such meter, or you hold no role on it" in unknown.text
    with psycopg.connect(seeded_db) as conn:
        stored = conn.execute(
            "SELECT meter_id, register_wh, audited_by, evidence, verdict FROM audit_readings"
        ).fetchall()
    assert stored == [("M1", 1_156_000, ADMIN, "site-visit-7.jpg", "consistent")]
    owner = TestClient(client.app, follow_redirects=False)
    sign_in(owner, OWNER)
    page = owner.get("/systems/S1")
    refused = owner.post("/admin/audits", data={**form, "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 403


def test_the_final_export_is_recorded_once_and_served_as_exported(
    client: TestClient, seeded_db: str
) -> None:
    """POST /admin/gis-export records 2026Q3; its file is served byte for byte; a second
    export is refused 409; an unexported quarter 404; the REC Owner may not download it."""
    at = datetime(2026, 10, 6, tzinfo=UTC)
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        for month in ("2026-07", "2026-08", "2026-09"):
            close_and_credit(conn, "S1", month, 500_000, at)
    sign_in(client, ADMIN)
    token = csrf_of(client.get("/admin").text)
    exported = client.post("/admin/gis-export", data={"quarter": "2026q3", "csrf_token": token})
    assert (exported.status_code, exported.headers["location"]) == (303, "/admin?exported=2026Q3")
    again = client.post("/admin/gis-export", data={"quarter": "2026Q3", "csrf_token": token})
    assert again.status_code == 409
    got = client.get("/admin/gis-exports/2026Q3")
    assert got.status_code == 200
    assert got.headers["content-disposition"] == 'attachment; filename="gis-2026Q3.csv"'
    assert got.text == "NON1,07/2026,0.500\nNON1,08/2026,0.500\nNON1,09/2026,0.500\n"
    assert client.get("/admin/gis-exports/2026Q2").status_code == 404
    buyer = TestClient(client.app, follow_redirects=False)
    sign_in(buyer, REC_OWNER)
    assert buyer.get("/admin/gis-exports/2026Q3").status_code == 403
    with psycopg.connect(seeded_db) as conn:
        assert conn.execute("SELECT count(*) FROM gis_exports").fetchone() == (1,)


def test_owner_requests_a_new_das_provider_only_for_an_automatic_system(
    client: TestClient,
) -> None:
    """owner-3's automatic S3 may ask for another DAS provider (refused: no such provider,
    with the reason); owner-1's manual S1 may not (reports_manually); the REC Owner may not
    ask for a new representative (not_system_owner)."""
    sign_in(client, "owner-3")
    token = csrf_of(client.get("/systems/S3").text)
    unknown = client.post(
        "/systems/S3/party-changes",
        data={"kind": "das_provider", "new_party_id": "cloudy", "csrf_token": token},
    )
    assert unknown.status_code == 422
    assert "No DAS provider &#39;cloudy&#39; is registered" in unknown.text
    owner = TestClient(client.app, follow_redirects=False)
    sign_in(owner, OWNER)
    token = csrf_of(owner.get("/systems/S1").text)
    manual = owner.post(
        "/systems/S1/party-changes",
        data={"kind": "das_provider", "new_party_id": "sunny", "csrf_token": token},
    )
    assert manual.status_code == 422
    assert "System S1 reports manually; a DAS provider reports automatic systems" in manual.text
    assert "reports_manually" not in manual.text  # the code is for staff and the write log
    buyer = TestClient(client.app, follow_redirects=False)
    sign_in(buyer, REC_OWNER)
    token = csrf_of(buyer.get("/systems/S1").text)
    not_owner = buyer.post(
        "/systems/S1/party-changes",
        data={"kind": "representative", "new_party_id": "rep-2", "csrf_token": token},
    )
    assert not_owner.status_code == 403
    assert "Only the System Owner of S1 may request a change of" in not_owner.text
    assert "not_system_owner" not in not_owner.text
    assert "party-change" not in buyer.get("/systems/S1").text  # the form is the owner's
