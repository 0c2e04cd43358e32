"""Change requests through the API, every kind the portal and `pts registry request-change`
open: a new REC Owner (System Owner or REC Owner, with the transfer contract), a new System
Representative or DAS provider (System Owner), one open request per system, the same rules."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from schemas.registry import DasProvider
from storage import registry_store
from tests.integration.web.support import ADMIN, OWNER, REC_OWNER, api_token

pytestmark = [pytest.mark.integration, pytest.mark.storage_modes("plain")]


def ask(client: TestClient, url: str, who: str, system: str, body: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/systems/{system}/change-requests",
        json=body,
        headers={"authorization": f"Bearer {api_token(url, who)}"},
    )


def decide(client: TestClient, url: str, system: str, request_id: str) -> Any:
    return client.post(
        f"/api/v1/systems/{system}/change-requests/{request_id}/decision",
        json={"status": "approved"},
        headers={"authorization": f"Bearer {api_token(url, ADMIN)}"},
    )


def shown(answer: Any) -> dict[str, Any]:
    """The answer without its generated id and time."""
    return {k: v for k, v in answer.json().items() if k not in ("request_id", "created_at")}


def test_the_owner_asks_for_a_new_representative(client: TestClient, seeded_db: str) -> None:
    made = ask(client, seeded_db, OWNER, "S1", {"kind": "representative", "new_party_id": "rep-2"})
    assert made.status_code == 201
    assert shown(made) == {
        "system_id": "S1",
        "kind": "representative",
        "requested_by": OWNER,
        "new_party_id": "rep-2",
        "document": None,
        "new_rec_owner_id": None,
        "transfer_contract": None,
        "status": "open",
        "decided_by": None,
        "decided_at": None,
    }
    assert decide(client, seeded_db, "S1", made.json()["request_id"]).status_code == 200
    with psycopg.connect(seeded_db) as conn:
        system = registry_store.get_system(conn, "S1")
    assert system is not None
    assert system.representative_id == "rep-2"


def test_the_owner_of_an_automatic_system_asks_for_a_new_das_provider(
    client: TestClient, seeded_db: str
) -> None:
    with psycopg.connect(seeded_db, autocommit=True) as conn:
        registry_store.upsert(
            conn, [DasProvider(provider_id="cloudy", name="Cloudy", approved=True)]
        )
    made = ask(
        client,
        seeded_db,
        "owner-3",
        "S3",
        {"kind": "das_provider", "new_party_id": "cloudy", "document": "contract-9.pdf"},
    )
    assert made.status_code == 201
    assert (made.json()["kind"], made.json()["new_party_id"], made.json()["document"]) == (
        "das_provider",
        "cloudy",
        "contract-9.pdf",
    )
    assert decide(client, seeded_db, "S3", made.json()["request_id"]).status_code == 200
    with psycopg.connect(seeded_db) as conn:
        system = registry_store.get_system(conn, "S3")
    assert system is not None
    assert system.das_provider_id == "cloudy"


def test_a_rec_owner_change_keeps_the_first_body(client: TestClient, seeded_db: str) -> None:
    made = ask(
        client,
        seeded_db,
        REC_OWNER,
        "S1",
        {"new_rec_owner_id": "buyer-10", "transfer_contract": "contract-7.pdf"},
    )
    assert made.status_code == 201
    assert shown(made) | {"status": "open"} == {
        "system_id": "S1",
        "kind": "rec_owner",
        "requested_by": REC_OWNER,
        "new_party_id": "buyer-10",
        "document": "contract-7.pdf",
        "new_rec_owner_id": "buyer-10",
        "transfer_contract": "contract-7.pdf",
        "status": "open",
        "decided_by": None,
        "decided_at": None,
    }


@pytest.mark.parametrize(
    ("who", "system", "body", "status", "code"),
    [
        (
            REC_OWNER,
            "S1",
            {"kind": "representative", "new_party_id": "rep-2"},
            403,
            "not_system_owner",
        ),
        ("rep-1", "S1", {"kind": "das_provider", "new_party_id": "sunny"}, 403, "not_system_owner"),
        (
            OWNER,
            "S1",
            {"kind": "representative", "new_party_id": "staff"},
            422,
            "not_a_representative",
        ),
        (OWNER, "S1", {"kind": "representative", "new_party_id": "nobody"}, 404, "unknown_account"),
        (OWNER, "S1", {"kind": "das_provider", "new_party_id": "sunny"}, 422, "reports_manually"),
        (
            "owner-3",
            "S3",
            {"kind": "das_provider", "new_party_id": "cloudy"},
            422,
            "unknown_provider",
        ),
        (
            OWNER,
            "S1",
            {"kind": "representative", "new_rec_owner_id": "rep-2"},
            422,
            "invalid_request",
        ),
        (OWNER, "S1", {"kind": "representative"}, 422, "invalid_request"),
        (OWNER, "S1", {"kind": "landlord", "new_party_id": "rep-2"}, 422, "invalid_request"),
        (
            OWNER,
            "S1",
            {"new_party_id": "buyer-10", "new_rec_owner_id": "buyer-10"},
            422,
            "invalid_request",
        ),
    ],
)
def test_the_rules_refuse_as_in_the_portal(
    client: TestClient,
    seeded_db: str,
    who: str,
    system: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    refused = ask(client, seeded_db, who, system, body)
    assert (refused.status_code, refused.json()["code"]) == (status, code)


def test_one_open_request_per_system(client: TestClient, seeded_db: str) -> None:
    """An open REC Owner change blocks a representative change, whatever its kind."""
    first = ask(
        client, seeded_db, OWNER, "S1", {"new_rec_owner_id": "buyer-10", "document": "c.pdf"}
    )
    assert first.status_code == 201
    second = ask(
        client, seeded_db, OWNER, "S1", {"kind": "representative", "new_party_id": "rep-2"}
    )
    assert (second.status_code, second.json()["code"]) == (409, "request_already_open")
