"""`pts provenance SYSTEM MONTH`: each certificate of a system-month traced to the month's
ledger entry, the meter-month energy and the readings that bound it, every reading checked
against what its gateway signed (certification.provenance), the readings in force (a corrected
manual reading with its corrected value) with each withdrawal stated. Read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from certification import certification_report as cert_report
from certification import withdrawals
from certification.provenance import (
    ManualEntry,
    MeterProvenance,
    Receipt,
    StoredReading,
    verify_meter,
)
from storage import certification_store as store
from storage import provenance_store, registry_store
from storage import withdrawals as withdrawal_store


@dataclass(slots=True)
class ProvenanceReport:
    system_id: str
    month: str
    certificates: list[str] = field(default_factory=list)
    meters: list[MeterProvenance] = field(default_factory=list)

    @property
    def proven(self) -> bool:
        return bool(self.meters) and all(m.proven for m in self.meters)

    def problems(self) -> list[tuple[str, str, str]]:
        """(meter_id, code, text) of every problem named."""
        return [(m.meter_id, p.code, p.text) for m in self.meters for p in m.problems]


def check_provenance(
    conn: psycopg.Connection[Any], system_id: str, month: str, now: datetime
) -> ProvenanceReport:
    """The provenance of a closed system-month (LookupError when there is no such close)."""
    system = registry_store.get_system(conn, system_id)
    if system is None:
        raise LookupError(f"no system {system_id!r}; see `pts registry`")
    closes = [c for c in store.closes_of(conn, system_id) if c.month == month]
    if not closes:
        raise LookupError(f"{system_id} has no closed month {month}; close it first")
    report = ProvenanceReport(system_id, month)
    entries = [cert_report.LedgerEntry(*r) for r in store.ledger_of(conn, system_id)]
    for rng in cert_report.certificate_ranges(entries):
        if rng.entry.month != month:
            continue
        serials = (
            f"certificates {rng.first_serial}–{rng.last_serial}"
            if rng.first_serial is not None
            else "no certificate"
        )
        report.certificates.append(
            f"{serials} ← ledger {rng.entry.entry} {month}: "
            f"{cert_report.plain_decimal(rng.entry.mwh)} MWh × {rng.entry.factor}"
        )
    keys = {k.key_id: k for k in provenance_store.keys_of(conn)}
    for meter in closes[-1].meters:
        meter_id = str(meter["meter_id"])
        bounds = [
            (datetime.fromisoformat(p[0]), int(p[1]))
            for p in (meter.get("first"), meter.get("last"))
            if p is not None
        ]
        if not bounds:
            report.meters.append(MeterProvenance(meter_id, int(meter["energy_wh"])))
            continue
        since, until = bounds[0][0], bounds[-1][0]
        readings = [
            StoredReading(*row[:9], tuple(row[9]))
            for row in provenance_store.readings_between(conn, meter_id, since, until)
        ]
        receipts = [
            Receipt("gateway", b.source_id, b.batch_id, b.key_id, b.sent_at, b.signature,
                    b.ts, b.seqs, b.prev_hashes, b.hashes)
            for b in provenance_store.batches_of(conn, meter_id, since, until)
        ]  # fmt: skip
        manual = {
            ts: ManualEntry(photo, by)
            for ts, (photo, by) in provenance_store.manual_entries(
                conn, meter_id, since, until
            ).items()
        }
        findings = [
            (kind, detail)
            for kind, _, _, detail in provenance_store.findings_of(conn, meter_id, since, until)
        ] + [
            ("reading_withdrawn", withdrawals.provenance_text(
                w.withdrawn_wh, w.replacement_wh, w.ts, w.reason, w.withdrawn_by, w.withdrawn_at
            ))
            for w in withdrawal_store.of_meter_between(conn, meter_id, since, until)
        ]  # fmt: skip
        report.meters.append(
            verify_meter(
                meter_id, int(meter["energy_wh"]), bounds, readings, receipts, keys,
                system.das_provider_id, manual, findings, now,
            )
        )  # fmt: skip
    return report


def render(report: ProvenanceReport) -> str:
    """The report as text: what is proven and what is not."""
    lines = [f"provenance of {report.system_id} {report.month}"]
    lines += [f"  {c}" for c in report.certificates] or ["  no ledger entry for the month"]
    for m in report.meters:
        verdict = "PROVEN" if m.proven else "NOT PROVEN"
        lines.append(
            f"  meter {m.meter_id}: {m.energy_wh} Wh, {len(m.readings)} readings: {verdict}"
        )
        shown = [m.readings[0], m.readings[-1]] if len(m.readings) > 1 else m.readings
        for proof in shown:
            r = proof.reading
            lines.append(
                f"    bound {r.ts.isoformat()} {r.energy_wh} Wh seq {r.seq} words "
                f"{list(r.raw_words)} sf {r.scale_factor} unit {r.unit_id} from {r.source_id}"
                f" | batch {proof.batch_id or '-'} key {proof.key_id or '-'} "
                f"hash {(proof.hash_hex or '-')[:16]} | {proof.note}"
            )
        signed = sum(1 for p in m.readings if p.proven)
        lines.append(f"    {signed} of {len(m.readings)} readings proven by signature and chain")
        for p in m.problems:
            lines.append(f"    {'NOT PROVEN' if p.failure else 'finding'} [{p.code}] {p.text}")
    lines.append(
        "  all certificates of the month are proven"
        if report.proven
        else "  NOT everything is proven (see above)"
    )
    return "\n".join(lines)
