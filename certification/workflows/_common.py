"""Conversions from storage rows to the rules' types, shared by several workflows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from certification.amendments import Amendment
from certification.capacity_history import CapacityHistory
from schemas.registry import System
from storage import certification_store as store
from storage import registry_store
from storage.reading_points import PointRow
from stream.energy import RegisterPoint


def register_point(row: PointRow) -> RegisterPoint:
    """A stored reading as the energy rules read it."""
    return RegisterPoint.stored(*row)


def capacities_of(
    conn: psycopg.Connection[Any], systems: Sequence[System]
) -> dict[str, CapacityHistory]:
    """system_id → its capacity over time (migration 021); a system with no recorded history
    (none written since 021) has today's capacity for all time."""
    steps = registry_store.capacity_steps(conn, [s.system_id for s in systems])
    return {
        s.system_id: CapacityHistory.of(steps[s.system_id], s.timezone)
        if steps.get(s.system_id)
        else CapacityHistory.constant(s.capacity_kw_dc, s.timezone)
        for s in systems
    }


def amendments_of(conn: psycopg.Connection[Any], system_id: str) -> list[Amendment]:
    """A system's amendments, in the order they were made."""
    return [Amendment(*row) for row in store.amendments(conn, system_id)]
