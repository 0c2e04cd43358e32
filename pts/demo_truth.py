"""The demo's own check: every meter's monthly total against the simulator's ground truth."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TruthCheck:
    meter_id: str
    truth_wh: int
    stored_wh: int | None  # None: no data reached the database (an estimate, not a total)

    @property
    def ok(self) -> bool:
        return self.stored_wh is None or self.stored_wh == self.truth_wh


def check_totals(truth: dict[str, int], stored: dict[str, int]) -> list[TruthCheck]:
    """Compare per meter; a meter with data must match to the Wh."""
    return [TruthCheck(m, truth[m], stored.get(m)) for m in sorted(truth)]


def all_match(checks: list[TruthCheck]) -> bool:
    """True when every meter with data matches and at least one meter had data."""
    return all(c.ok for c in checks) and any(c.stored_wh is not None for c in checks)
