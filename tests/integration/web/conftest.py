"""Fixtures of the web tests: a seeded database, the clock, an in-process client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.integration.web.browser import browser, module_driver  # noqa: F401 (fixtures)
from tests.integration.web.support import IN_WINDOW, Clock, make_app, seed


@pytest.fixture
def seeded_db(fresh_db: str) -> str:
    seed(fresh_db)
    return fresh_db


@pytest.fixture
def clock() -> Clock:
    return Clock(IN_WINDOW)


@pytest.fixture
def client(seeded_db: str, clock: Clock) -> Iterator[TestClient]:
    """The app in-process (its lifespan opens the pool); base URL http://testserver."""
    with TestClient(make_app(seeded_db, clock), follow_redirects=False) as test_client:
        yield test_client
