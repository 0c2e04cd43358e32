"""Conversions from storage rows to the rules' types, shared by several workflows."""

from __future__ import annotations

from typing import Any

import psycopg

from certification.amendments import Amendment
from schemas.reading import QualityFlag, ReadingEvent
from storage import certification_store as store
from storage.certification_store import PointRow
from stream.energy import RegisterPoint

_RESET = QualityFlag.RESET.value  # looked up once: month close converts every reading


def register_point(row: PointRow) -> RegisterPoint:
    """A stored reading as the energy rules read it."""
    return RegisterPoint(
        row.ts,
        row.energy_wh,
        ReadingEvent(row.event) if row.event else None,
        row.register_modulus_wh,
        _RESET in row.flags,
    )


def amendments_of(conn: psycopg.Connection[Any], system_id: str) -> list[Amendment]:
    """A system's amendments, in the order they were made."""
    return [Amendment(*row) for row in store.amendments(conn, system_id)]
