"""What the system page tells an owner about a month-close finding (pure): one plain sentence
per finding code the certification rules make (certification.month_close, late_readings,
workflows.close_month), never the code itself; staff see the code and the rules' message.
tests/unit/web/test_finding_wording.py checks that every code the rules make has a sentence.
"""

from __future__ import annotations

# code → what it means for the homeowner and what happens next
SENTENCES: dict[str, str] = {
    "gap": "Some days of this month have no readings, so part of the month was filled in.",
    "flat_line": "The meter showed no change for a long stretch, as if the system was off.",
    "zero_month": "The meter showed no production at all this month.",
    "missing_month": (
        "No reading was received for this month, so PTS estimated it; an estimate earns no "
        "certificates."
    ),
    "night_production": (
        "The readings show production at night, which a solar system cannot make; PTS staff "
        "check the month before certificates are counted."
    ),
    "over_capacity": (
        "The readings show more energy than a system of this size can produce; PTS staff "
        "check the month before certificates are counted."
    ),
    "implausible_power": (
        "Between two readings the meter rose faster than the system can produce; PTS staff "
        "check the month before certificates are counted."
    ),
    "backwards_register": (
        "A reading was lower than the one before it; PTS staff check the month before "
        "certificates are counted."
    ),
    "register_mismatch": (
        "The meter's readings do not add up; PTS staff check the month before certificates "
        "are counted."
    ),
    "audit_mismatch": (
        "A site visit read the meter differently from what was reported; PTS staff check the "
        "month before certificates are counted."
    ),
    "estimated_boundary": (
        "Readings around the start or end of the month were far apart, so the month's share "
        "was worked out from them."
    ),
    "replacement_unread": (
        "The meter was replaced without the old meter's final reading; send it to PTS staff "
        "so that its last energy counts."
    ),
    "late_readings": (
        "Readings arrived after the month was closed and change its total; PTS staff review "
        "it before certificates are counted."
    ),
    "true_up_amended": (
        "Energy counted this month belongs to an earlier month that PTS staff already "
        "corrected, so it is not counted twice."
    ),
}
OTHER = "PTS noted something about this month's readings; PTS staff may contact you about it."


def finding_sentence(code: str) -> str:
    """The plain sentence of a finding code (a general one for a code not listed yet)."""
    return SENTENCES.get(code, OTHER)
