"""Registry documents shared by the certification tests (test support, not a test module)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def manual_registry(
    meter: Mapping[str, Any] | None = None, accounts: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """One manual system: S1 (10 kW DC, GIS unit NON1, REC terms accepted) owned by owner-1 and
    represented by rep-1, with its meter M1 (model ACME-1, approved at ±2%, installed
    2024-01-01); staff-1 is an admin. `meter`: fields added to or replacing M1's (e.g.
    register_digits, ct_ratio); `accounts`: more accounts. A new document on every call."""
    return {
        "accounts": [
            {"account_id": "staff-1", "role": "admin"},
            {"account_id": "owner-1", "role": "system_owner", "email": "o@example.org"},
            {"account_id": "rep-1", "role": "system_representative"},
            *(dict(a) for a in accounts),
        ],
        "approved_meters": [{"model": "ACME-1", "accuracy_class": "2.0"}],
        "systems": [
            {
                "system_id": "S1",
                "owner_id": "owner-1",
                "representative_id": "rep-1",
                "capacity_kw_dc": "10",
                "reporting_method": "manual",
                "gis_unit_id": "NON1",
                "rec_terms_accepted": True,
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
                **(meter or {}),
            },
        ],
    }
