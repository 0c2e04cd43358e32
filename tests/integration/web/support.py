"""The web tests' world: a registry of two manual systems with their people, passwords for
them, a settable clock, the app in-process (httpx) or served by a real uvicorn."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import uvicorn
from fastapi import FastAPI

from certification.workflows.accept_month import credit_month
from certification.workflows.load_registry import load_registry
from pts.settings import Settings
from storage import certification_store, registry_store
from web import credential_store, passwords
from web.app import create_app

IN_WINDOW = datetime(2026, 10, 30, 16, tzinfo=UTC)  # October's window: Oct 27 - Nov 5 (NY)
OUTSIDE_WINDOW = datetime(2026, 11, 15, 17, tzinfo=UTC)
PASSWORD = "correct horse battery"  # every test account's password
ADMIN, OWNER, OTHER_OWNER, REC_OWNER, REP = "staff", "owner-1", "owner-2", "buyer-9", "rep-1"

REGISTRY: dict[str, Any] = {
    "accounts": [
        {"account_id": ADMIN, "role": "admin", "name": "Pat Staff"},
        {
            "account_id": OWNER,
            "role": "system_owner",
            "name": "Olive Owner",
            "email": "olive@example.org",
        },
        {"account_id": OTHER_OWNER, "role": "system_owner", "name": "Oscar Other"},
        {"account_id": REC_OWNER, "role": "rec_owner", "name": "Bea Buyer"},
        {"account_id": REP, "role": "system_representative", "name": "Rita Rep"},
        {"account_id": "rep-2", "role": "system_representative"},
        {"account_id": "buyer-10", "role": "rec_owner"},
        {"account_id": "sunny", "role": "das_provider", "name": "Sunny DAS"},
        {"account_id": "owner-3", "role": "system_owner"},
    ],
    "providers": [{"provider_id": "sunny", "name": "Sunny DAS", "approved": True}],
    "approved_meters": [
        {"model": "ACME-1", "accuracy_class": "2.0"},
        {"model": "ACME-5", "accuracy_class": "0.5"},
    ],
    "systems": [
        {
            "system_id": "S1",
            "name": "Maple Street roof",
            "owner_id": OWNER,
            "rec_owner_id": REC_OWNER,
            "representative_id": REP,
            "capacity_kw_dc": "8",
            "reporting_method": "manual",
            "gis_unit_id": "NON1",
            "rec_terms_accepted": True,
        },
        {
            "system_id": "S2",
            "name": "Oak Avenue barn",
            "owner_id": OTHER_OWNER,
            "representative_id": "rep-2",
            "capacity_kw_dc": "6",
            "reporting_method": "manual",
            "gis_unit_id": "NON2",
        },
        {
            "system_id": "S3",
            "name": "Elm Road warehouse",
            "owner_id": "owner-3",
            "capacity_kw_dc": "20",
            "reporting_method": "automatic",
            "das_provider_id": "sunny",
            "gis_unit_id": "NON3",
        },
    ],
    "meters": [
        {
            "meter_id": "M1",
            "system_id": "S1",
            "serial": "X1",
            "model": "ACME-1",
            "accuracy_class": "2.0",
            "installed_on": "2024-01-01",
        },
        {
            "meter_id": "M3",
            "system_id": "S3",
            "serial": "X3",
            "model": "ACME-5",
            "accuracy_class": "0.5",
            "installed_on": "2024-01-01",
        },
        {
            "meter_id": "M2",
            "system_id": "S2",
            "serial": "X2",
            "model": "ACME-1",
            "accuracy_class": "2.0",
            "installed_on": "2024-01-01",
        },
    ],
}


class Clock:
    """The app's clock, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def seed(url: str) -> None:
    """Load the registry and give every account the test password."""
    with psycopg.connect(url, autocommit=True) as conn:
        load_registry(conn, REGISTRY, Decimal(10))
        hashed = passwords.hash_password(PASSWORD)
        for account in REGISTRY["accounts"]:
            credential_store.set_password(
                conn, account["account_id"], hashed, datetime(2026, 1, 1, tzinfo=UTC)
            )


def settings_for(url: str, **overrides: Any) -> Settings:
    return Settings(database_url=url, web_pool_size=4, **overrides)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app served by a real uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on port {port} within 60 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def make_app(url: str, clock: Clock, **overrides: Any) -> FastAPI:
    return create_app(settings_for(url, **overrides), clock=clock)


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: Any, account_id: str, password: str = PASSWORD) -> Any:
    """Sign in through the form (GET for the CSRF cookie and field, then POST)."""
    form = client.get("/signin")
    return client.post(
        "/signin",
        data={"account_id": account_id, "password": password, "csrf_token": csrf_of(form.text)},
    )


def api_token(url: str, account_id: str, at: datetime = datetime(2026, 10, 1, tzinfo=UTC)) -> str:
    """A personal API token of `account_id`, made as the Account page makes one."""
    from web import accounts

    with psycopg.connect(url, autocommit=True) as conn:
        row = credential_store.get_account(conn, account_id)
        assert row is not None, f"no account {account_id}"
        return accounts.create_token(conn, accounts.as_account(row), "cli", at, "test")[1]


def bootstrap_admin(url: str, account_id: str = "staff-1") -> None:
    """The first admin, as `pts accounts create-admin` makes it on the server."""
    from web import accounts

    with psycopg.connect(url, autocommit=True) as conn:
        accounts.create_admin(conn, account_id, "", "", PASSWORD, datetime(2026, 1, 1, tzinfo=UTC))


def close_and_credit(
    conn: psycopg.Connection[Any], system_id: str, month: str, energy_wh: int, at: datetime
) -> None:
    """A month closed with `energy_wh` metered and credited by the SREC ledger as month close
    would (the GIS export sends only what the ledger credited)."""
    certification_store.save_close(conn, system_id, month, energy_wh, False, [], [], "staff", at)
    system = registry_store.get_system(conn, system_id)
    assert system is not None
    credit_month(conn, system, month, energy_wh, "close")
