"""The mint gate, pure (certificates engineer's hunt, session 5): energy month close or the
stream flagged as implausible never passes as plausible, and every finding month close can
make has a decision (holds the month, or is advisory with the reason it cannot mint flagged
energy)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from certification.errors import Refused
from certification.month_close import Thresholds, meter_month
from pts.settings import Settings
from schemas.findings import HOLDING_FINDINGS
from stream.energy import RegisterPoint
from tests.unit.certification.test_month_close import NY, NY_NAME, TEN, midnights

# advisory findings, each with why no flagged energy mints through it
ADVISORY = {
    "gap": "the energy across a gap is the register's own difference",
    "flat_line": "no energy",
    "zero_month": "no energy",
    "missing_month": "an estimate: never certified (certified_wh leaves it out)",
    "estimated_boundary": "metered energy, only its split at the month's start/end estimated",
    "replacement_unread": "the unread energy is counted 0",
    "true_up_amended": "a deduction",
    "late_readings": "listed on the closing month; the month it names is held after its close",
}


def test_every_finding_month_close_makes_has_a_mint_decision() -> None:
    """The codes in month close's source are exactly the holding ones and the advisory ones
    above: a new finding cannot be added without deciding whether it holds the month."""
    root = Path(__file__).resolve().parents[3] / "certification"
    made = set()
    for name in ("month_close.py", "late_readings.py", "workflows/close_month.py"):
        made |= set(re.findall(r'Finding\(\s*"([a-z_]+)"', (root / name).read_text()))
    made |= {"audit_mismatch"}  # made by workflows/close_month.py from the stored audits
    assert made == set(HOLDING_FINDINGS) | set(ADVISORY)
    assert not set(HOLDING_FINDINGS) & set(ADVISORY)


def test_a_run_of_short_spikes_is_implausible_power() -> None:
    """10 kW (limit 12 kW). On Nov 10 at 12:00 the register climbs 833 Wh every 3 s for 12
    minutes: 199,920 Wh, 1,000 kW. Each 3-s step alone fits the 5-minute floor (833 ≤ 12 kW
    × 5 min = 1,000 Wh), so no single interval was a finding; the month (1,399,920 Wh) is
    under the monthly capacity check. Its first ten minutes register 166,600 Wh (five at a
    time, 83,300 Wh each): implausible_power, which holds the month."""
    days = midnights(date(2026, 11, 1), [40_000] * 30)
    noon = datetime(2026, 11, 10, 12, tzinfo=NY)
    base = days[9].energy_wh  # the register at Nov 10 00:00 (no energy by noon)
    burst = [RegisterPoint(noon + timedelta(seconds=3 * k), base + 833 * k) for k in range(241)]
    extra = 833 * 240
    points = days[:10] + burst + [RegisterPoint(p.ts, p.energy_wh + extra) for p in days[10:]]
    result = meter_month("M1", points, "2026-11", NY_NAME, TEN)
    assert result.energy_wh == 1_200_000 + 199_920
    assert [(f.code, f.message) for f in result.findings] == [
        (
            "implausible_power",
            "166600 Wh from 2026-11-10T17:00:00+00:00 to 2026-11-10T17:10:00+00:00 is above "
            "10 kW DC × 1.2",
        )
    ]
    assert "implausible_power" in Thresholds().holding


def test_register_resolution_on_a_fast_poll_is_no_finding() -> None:
    """A 1 kWh-resolution register read every 10 s on a 10 kW system producing 9 kW: one
    1,000 Wh step every 400 s (each 10-s interval with a step is 360 kW, flagged by the
    stream); no five minutes hold more than one step: no finding."""
    days = midnights(date(2026, 11, 1), [40_000] * 30)
    start = datetime(2026, 11, 10, 10, tzinfo=NY)
    base = days[9].energy_wh
    poll = [
        RegisterPoint(start + timedelta(seconds=10 * k), base + 1_000 * ((10 * k) // 400))
        for k in range(361)
    ]  # one hour: 9 steps, 9,000 Wh
    gained = poll[-1].energy_wh - base
    points = days[:10] + poll + [RegisterPoint(p.ts, p.energy_wh + gained) for p in days[10:]]
    result = meter_month("M1", points, "2026-11", NY_NAME, TEN)
    assert (result.energy_wh, result.findings) == (1_200_000 + 9_000, [])


def test_the_holding_setting_adds_findings_never_removes_the_implausible_ones() -> None:
    """PTS_MONTH_CLOSE_HOLDING_FINDINGS='["gap"]' holds gaps too; it cannot make
    implausible_power (or any default) advisory: that would mint flagged energy."""
    built = Thresholds.from_settings(Settings(month_close_holding_findings=frozenset({"gap"})))
    assert built.holding == HOLDING_FINDINGS | {"gap"}


def test_a_close_cannot_raise_the_capacity_bound_beyond_nameplate() -> None:
    """`pts month close --max-capacity-factor` may tighten the bound, never lift it past 1
    (nameplate all month, the setting's own limit): 5, 0, −1 and NaN are refused; 1 and 0.2
    are taken."""
    settings = Settings()
    refused = []
    for text in ("5", "0", "-1", "NaN", "1.0001"):
        with pytest.raises(Refused) as caught:
            Thresholds.from_settings(settings, Decimal(text))
        refused.append(caught.value.code)
    taken = [
        Thresholds.from_settings(settings, Decimal(t)).max_capacity_factor for t in ("1", "0.2")
    ]
    assert refused == ["bad_capacity_factor"] * 5
    assert taken == [Decimal(1), Decimal("0.2")]


def test_the_power_tolerance_cannot_switch_the_implausible_power_check_off() -> None:
    """PTS_STREAM_POWER_TOLERANCE (the stream's and month close's power limit) is at most 2 ×
    nameplate: 5 would let a 10 kW system register 50 kW unflagged, and mint it."""
    assert Settings(stream_power_tolerance=Decimal(2)).stream_power_tolerance == 2
    with pytest.raises(ValidationError):
        Settings(stream_power_tolerance=Decimal(5))
