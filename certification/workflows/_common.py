"""Conversions from storage rows to the rules' types, shared by several workflows."""

from __future__ import annotations

from typing import Any

import psycopg

from certification.amendments import Amendment
from storage import certification_store as store
from storage.reading_points import PointRow
from stream.energy import RegisterPoint


def register_point(row: PointRow) -> RegisterPoint:
    """A stored reading as the energy rules read it."""
    return RegisterPoint.stored(*row)


def amendments_of(conn: psycopg.Connection[Any], system_id: str) -> list[Amendment]:
    """A system's amendments, in the order they were made."""
    return [Amendment(*row) for row in store.amendments(conn, system_id)]
