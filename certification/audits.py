"""Site audits, pure: an admin reads the meter on site; the reading is compared with what was
reported for that meter at that instant.

The reported register at the audit instant is interpolated linearly between the reported
readings around it (rollover and resets are handled as the stream handles them: interval
energy from stream.energy). The deviation is judged against the production reported so far
(first reported register → audit instant), with the accuracy the meter's tier requires.
With no reported reading after the audit instant there is nothing to interpolate: an audit
register below the last reported one is a mismatch (the reports ran ahead of the meter),
otherwise the comparison waits for the next report.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from certification.errors import Refused
from certification.roles import Account, require_admin
from stream.energy import PowerLimit, RegisterPoint, intervals, split_interval


class Verdict(StrEnum):
    CONSISTENT = "consistent"  # within the tolerance
    MISMATCH = "mismatch"  # outside it: amend the affected months
    PENDING = "pending"  # no reported reading after the audit yet


@dataclass(frozen=True, slots=True)
class AuditReading:
    meter_id: str
    ts: datetime
    register_wh: int
    audited_by: str
    evidence: str  # photo or report reference


@dataclass(frozen=True, slots=True)
class AuditComparison:
    audit: AuditReading
    reported_wh: int | None  # the reported register at the audit instant (interpolated)
    deviation_wh: int | None  # audit − reported
    produced_wh: int | None  # production reported from the first reading to the audit
    deviation_pct: Decimal | None
    tolerance_pct: Decimal
    verdict: Verdict


def record(
    account: Account, meter_id: str, ts: datetime, register_wh: int, evidence: str
) -> AuditReading:
    """An audit reading; only admins audit, and an audit needs its evidence."""
    require_admin(account, "record an audit reading")
    if not evidence:
        raise Refused("evidence_missing", "an audit reading needs evidence (a photo or report)")
    if register_wh < 0:
        raise Refused("negative_register", f"a register cannot read {register_wh} Wh")
    return AuditReading(meter_id, ts, register_wh, account.account_id, evidence)


def compare(
    audit: AuditReading,
    reported: list[RegisterPoint],
    tolerance_pct: Decimal,
    limit: PowerLimit | None = None,
) -> AuditComparison:
    """Compare an audit reading with the meter's reported readings (any order); `limit`: the
    system's power limit, as month close and the stream count energy."""
    # in UTC: Python subtracts two datetimes sharing a tzinfo by wall clock (DST ignored)
    points = sorted((replace(p, ts=p.ts.astimezone(UTC)) for p in reported), key=lambda p: p.ts)
    before = [p for p in points if p.ts <= audit.ts]
    after = [p for p in points if p.ts > audit.ts]
    if not before:
        raise Refused(
            "nothing_reported_before",
            f"meter {audit.meter_id} has no reported reading before the audit at {audit.ts}",
        )
    if not after:
        verdict = Verdict.MISMATCH if audit.register_wh < before[-1].energy_wh else Verdict.PENDING
        return AuditComparison(audit, None, None, None, None, tolerance_pct, verdict)
    parts = intervals([*before, after[0]], limit)
    produced = sum(i.energy_wh for i in parts[:-1])
    spanning = parts[-1]
    share = split_interval(spanning, [audit.ts])[0][1] if spanning.start < audit.ts else 0
    produced += share
    reported_wh = before[-1].energy_wh + share
    deviation = audit.register_wh - reported_wh
    pct = (
        (Decimal(abs(deviation)) * 100 / produced).quantize(Decimal("0.01"))
        if produced
        else Decimal(0 if deviation == 0 else 100)
    )
    verdict = Verdict.CONSISTENT if pct <= tolerance_pct else Verdict.MISMATCH
    return AuditComparison(audit, reported_wh, deviation, produced, pct, tolerance_pct, verdict)


@dataclass(frozen=True, slots=True)
class StoredAudit:
    """An audit as stored, with the comparison made when it was recorded."""

    ts: datetime
    register_wh: int
    reported_wh: int | None
    deviation_pct: Decimal | None
    verdict: Verdict


def mismatch_findings(stored: list[StoredAudit], start: datetime, end: datetime) -> list[str]:
    """What a month close lists for each mismatching audit taken in [start, end)."""
    out = []
    for a in sorted(stored, key=lambda a: a.ts):
        if a.verdict is not Verdict.MISMATCH or not start <= a.ts < end:
            continue
        if a.reported_wh is None:
            out.append(
                f"site audit at {a.ts.isoformat()} read {a.register_wh} Wh, below the last "
                "reported register; amend the affected months"
            )
        else:
            out.append(
                f"site audit at {a.ts.isoformat()} read {a.register_wh} Wh against "
                f"{a.reported_wh} Wh reported ({a.deviation_pct}% of the production, beyond "
                "the meter's accuracy class); amend the affected months"
            )
    return out
