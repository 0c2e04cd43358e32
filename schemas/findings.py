"""Month-close finding codes that hold a month (a contract: settings, reports and the API
name them).

The rule that uses them is certification.holds; the default lives here, beneath every layer,
so the process settings (PTS_MONTH_CLOSE_HOLDING_FINDINGS) can name it without importing the
certification rules.
"""

from __future__ import annotations

# findings that question the measured energy itself: the month mints nothing until released
HOLDING_FINDINGS: frozenset[str] = frozenset(
    {
        "over_capacity",
        "backwards_register",
        "register_mismatch",
        "night_production",
        "audit_mismatch",
        "implausible_power",
    }
)
