"""Load a registry document: providers, accounts, approved meters, systems, meters.

Load the stored registry, decide with certification.registry_rules (the whole document is
refused if anything in it fails), save every record.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import structlog

from certification.errors import Refused
from certification.registry_document import read_registry_document
from certification.registry_rules import check_meter, check_reporting_method
from schemas.registry import AccuracyClass
from storage import certification_store as store
from storage import registry_store

log = structlog.get_logger(__name__)


def load_registry(
    conn: psycopg.Connection[Any],
    data: dict[str, Any],
    manual_max_kw_dc: Decimal,
    now: datetime | None = None,
) -> dict[str, int]:
    """Validate a registry document (providers, accounts, approved_meters, systems, meters)
    against the registry rules and store it; refuse the whole document if anything fails.
    `now` (when the load happens) is logged with it."""
    document = read_registry_document(data)  # every record checked against its schema
    providers, systems, meters = document.providers, document.systems, document.meters
    accounts, approved = document.accounts, document.approved
    problems: list[str] = []
    with conn.transaction():
        if now is not None:  # a capacity changed takes effect from this load's day (021)
            conn.execute(
                "SELECT set_config('pts.capacity_changed_at', %s, true)", (now.isoformat(),)
            )
        known_approved = {k: AccuracyClass(v) for k, v in store.approved_models(conn).items()}
        approved_all = {**known_approved, **approved}
        by_provider = {p.provider_id: p for p in registry_store.list_providers(conn)}
        by_provider.update({p.provider_id: p for p in providers if p is not None})
        by_system = {s.system_id: s for s in registry_store.list_systems(conn)}
        by_system.update({s.system_id: s for s in systems if s is not None})
        units: dict[str, str] = {}
        for known in by_system.values():
            if known.gis_unit_id and units.setdefault(known.gis_unit_id, known.system_id) != (
                known.system_id
            ):
                problems.append(
                    f"system {known.system_id}: NEPOOL GIS unit {known.gis_unit_id} is already "
                    f"{units[known.gis_unit_id]}'s"
                )
        for s in systems:
            if s is None:
                continue
            try:
                provider = by_provider.get(s.das_provider_id or "")
                check_reporting_method(s, manual_max_kw_dc, provider)
            except Refused as refusal:
                problems.append(f"system {s.system_id}: {refusal}")
        stored_meters = {m.meter_id: m for m in registry_store.list_meters(conn)}
        for m in meters:
            if m is None:
                continue
            stored = stored_meters.get(m.meter_id)
            if stored is not None and stored.system_id != m.system_id:
                closed = store.meter_closed_through(conn, m.meter_id, stored.system_id)
                if closed is not None:
                    problems.append(
                        f"meter {m.meter_id}: its energy was certified for system "
                        f"{stored.system_id} (closed through {closed}); a meter cannot move to "
                        f"{m.system_id}, whose closes would count the same readings again: "
                        f"register {m.system_id}'s meter under its own id"
                    )
                    continue
            owner = by_system.get(m.system_id)
            if owner is None:
                problems.append(f"meter {m.meter_id}: system {m.system_id} is not registered")
                continue
            try:
                check_meter(owner, m, approved_all)
            except Refused as refusal:
                problems.append(f"meter {m.meter_id}: {refusal}")
        if problems:
            raise Refused("registry_refused", "; ".join(problems))
        store.upsert_accounts(conn, accounts)
        store.upsert_approved_models(conn, [(k, v.value) for k, v in approved.items()])
        registry_store.upsert(conn, [*providers, *systems, *meters])
    counts = {
        "providers": len(providers),
        "accounts": len(accounts),
        "approved_meters": len(approved),
        "systems": len(systems),
        "meters": len(meters),
    }
    log.info("registry_loaded", **counts, **({} if now is None else {"at": now.isoformat()}))
    return counts
