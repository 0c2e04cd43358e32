"""Provenance of a meter-month, pure: are its stored readings what the gateway signed?

Given the stored readings between the readings that bound a meter's month (month close's
first and last), the receipts of the signed batches that carried them (`signed_batches`),
the registry's keys and the findings, `verify_meter` says per reading what is proven and
names every problem:

- `reading_changed`: the stored reading does not hash to what its batch signed;
- `reading_removed`: the chain link of the next reading names a reading that a signed batch
  carried but the database no longer holds;
- `chain_gap`: a chain link names a reading nobody received (lost or never sent: a finding);
- `sequence_not_increasing`: along the chain the gateway's sequence numbers went down;
- `bad_signature`, `unknown_key`, `key_revoked`: the batch's signature does not prove it;
- `not_reporting_party`: signed by a gateway that does not report this meter;
- `unsigned`: no signed batch holds the reading (nothing proves where it came from);
- `bound_changed`: a bounding reading differs from what month close used;
- `replayed_batch`: a batch was received again (changed nothing; listed, not a failure);
- `raw_words_unexplained`: the raw words give energy_wh under no integer word order ×
  10^scale factor (a float or multiplied register; a finding: the signature covers both).
A manual reading is not signed: what is known is the photo reference and the account that
entered it (`manual`), stated, not proven. The chain runs in the gateway's send order
(sequence numbers), not in time order, so late and out-of-order delivery still verifies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schemas.envelope import reading_hash, signing_message
from schemas.signing_keys import SigningKey

FAILURES = frozenset(
    {
        "reading_changed",
        "reading_removed",
        "sequence_not_increasing",
        "bad_signature",
        "unknown_key",
        "key_revoked",
        "not_reporting_party",
        "bound_changed",
    }
)


@dataclass(frozen=True, slots=True)
class StoredReading:
    """A reading as the database holds it (the fields a reading hash covers)."""

    meter_id: str
    ts: datetime
    energy_wh: int
    source: str
    source_id: str
    seq: int
    received_at: datetime
    unit_id: int | None
    scale_factor: int | None
    raw_words: tuple[int, ...]
    prev_hash: str | None = None  # from the receipt, when a signed batch carried it


@dataclass(frozen=True, slots=True)
class Receipt:
    """A signed batch as stored (storage.provenance_store.StoredBatch)."""

    source: str
    source_id: str
    batch_id: str
    key_id: str
    sent_at: datetime
    signature: bytes
    ts: Sequence[datetime]
    seqs: Sequence[int]
    prev_hashes: Sequence[str | None]
    hashes: Sequence[bytes]


@dataclass(frozen=True, slots=True)
class ManualEntry:
    photo_ref: str | None
    submitted_by: str


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    text: str

    @property
    def failure(self) -> bool:
        return self.code in FAILURES


@dataclass(frozen=True, slots=True)
class ReadingProof:
    reading: StoredReading
    batch_id: str | None
    key_id: str | None
    hash_hex: str | None
    proven: bool
    note: str


@dataclass(slots=True)
class MeterProvenance:
    meter_id: str
    energy_wh: int
    readings: list[ReadingProof] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def proven(self) -> bool:
        return (
            bool(self.readings)
            and all(r.proven for r in self.readings)
            and not any(p.failure for p in self.problems)
        )


def words_explain(energy_wh: int, words: Sequence[int], scale_factor: int | None) -> str | None:
    """How the raw register words give energy_wh (an unsigned integer in big- or little-endian
    word order × 10^scale factor, exactly), or None when no such reading explains it (a float
    register, or a map's multiplier: the gateway's register map says how)."""
    if not words:
        return None
    scale = scale_factor or 0
    orders = (("big-endian", list(words)), ("little-endian", list(reversed(words))))
    for order, ordered in orders:
        raw = 0
        for word in ordered:
            raw = (raw << 16) | word
        if scale >= 0 and raw * 10**scale == energy_wh:
            return f"{order} words × 10^{scale}"
        if scale < 0 and raw == energy_wh * 10**-scale:
            return f"{order} words × 10^{scale}"
    return None


def _signature_problem(
    receipt: Receipt, key: SigningKey | None, reporting_party: str | None, now: datetime
) -> Problem | None:
    name = f"batch {receipt.batch_id} of {receipt.source_id}"
    if key is None or key.signer_id != receipt.source_id:
        return Problem("unknown_key", f"{name}: key {receipt.key_id} is not {receipt.source_id}'s")
    message = signing_message(
        receipt.batch_id, receipt.source, receipt.source_id, receipt.sent_at, key.key_id,
        list(receipt.hashes),
    )  # fmt: skip
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key_bytes).verify(receipt.signature, message)
    except InvalidSignature:
        return Problem("bad_signature", f"{name}: the signature does not verify")
    if key.revoked_at is not None and key.revoked_at <= now:
        why = f" ({key.revoked_reason})" if key.revoked_reason else ""
        return Problem(
            "key_revoked",
            f"{name} was signed by key {key.key_id}, revoked at "
            f"{key.revoked_at.isoformat()}{why}: its signatures prove nothing",
        )
    if reporting_party is not None and receipt.source_id != reporting_party:
        return Problem(
            "not_reporting_party",
            f"{name} is signed by {receipt.source_id}, which does not report this meter "
            f"(its reporting party is {reporting_party})",
        )
    return None


def verify_meter(
    meter_id: str,
    energy_wh: int,
    bounds: Sequence[tuple[datetime, int]],
    readings: Sequence[StoredReading],
    receipts: Sequence[Receipt],
    keys: Mapping[str, SigningKey],
    reporting_party: str | None,
    manual: Mapping[datetime, ManualEntry],
    findings: Sequence[tuple[str, str]],
    now: datetime,
) -> MeterProvenance:
    """What the stored readings of one meter-month prove (module docstring)."""
    out = MeterProvenance(meter_id, energy_wh)
    # where each reading was signed: (source_id, ts) → (receipt, index)
    signed_at: dict[tuple[str, datetime], tuple[Receipt, int]] = {}
    all_hashes: dict[bytes, tuple[Receipt, int]] = {}
    for receipt in receipts:
        for i, ts in enumerate(receipt.ts):
            signed_at.setdefault((receipt.source_id, ts), (receipt, i))
            all_hashes.setdefault(receipt.hashes[i], (receipt, i))
    checked: dict[str, Problem | None] = {}
    by_ts = {r.ts: r for r in readings}
    for ts, wh in bounds:
        bound = by_ts.get(ts)
        if bound is None or bound.energy_wh != wh:
            held = "missing" if bound is None else f"{bound.energy_wh} Wh"
            out.problems.append(
                Problem(
                    "bound_changed",
                    f"month close used the reading at {ts.isoformat()} = {wh} Wh; the database "
                    f"holds {held}",
                )
            )
    chains: dict[str, list[tuple[StoredReading, bytes]]] = {}
    unexplained: list[StoredReading] = []
    for reading in readings:
        if reading.source == "manual":
            entry = manual.get(reading.ts)
            note = (
                f"manual: entered by {entry.submitted_by}, photo {entry.photo_ref or 'none'} "
                "(stated, not signed)"
                if entry
                else "manual: no report record"
            )
            out.readings.append(ReadingProof(reading, None, None, None, False, note))
            continue
        found = signed_at.get((reading.source_id, reading.ts))
        if found is None:
            out.readings.append(
                ReadingProof(reading, None, None, None, False, "unsigned: nothing proves it")
            )
            out.problems.append(
                Problem("unsigned", f"the reading at {reading.ts.isoformat()} is not signed")
            )
            continue
        receipt, index = found
        linked = dataclasses.replace(reading, prev_hash=receipt.prev_hashes[index])
        digest = reading_hash(linked)
        if receipt.batch_id not in checked:
            checked[receipt.batch_id] = _signature_problem(
                receipt, keys.get(receipt.key_id), reporting_party, now
            )
            problem = checked[receipt.batch_id]
            if problem is not None:
                out.problems.append(problem)
        signature_ok = checked[receipt.batch_id] is None
        if digest != receipt.hashes[index]:
            out.problems.append(
                Problem(
                    "reading_changed",
                    f"the reading at {reading.ts.isoformat()} (seq {reading.seq}, "
                    f"{reading.energy_wh} Wh) is not what batch {receipt.batch_id} signed: "
                    "changed in the database",
                )
            )
            out.readings.append(
                ReadingProof(linked, receipt.batch_id, receipt.key_id, None, False, "changed")
            )
            chains.setdefault(reading.source_id, []).append((linked, receipt.hashes[index]))
            continue
        how = words_explain(reading.energy_wh, reading.raw_words, reading.scale_factor)
        if how is None and reading.raw_words:
            unexplained.append(reading)
        note = "signed" if signature_ok else "signature not proven"
        out.readings.append(
            ReadingProof(
                linked, receipt.batch_id, receipt.key_id, digest.hex(), signature_ok,
                f"{note}; {how or 'words not checked'}",
            )
        )  # fmt: skip
        chains.setdefault(reading.source_id, []).append((linked, digest))
    for links in chains.values():
        links.sort(key=lambda x: x[0].seq)
        for (prev, prev_hash), (cur, _) in pairwise(links):
            if cur.seq <= prev.seq:
                out.problems.append(
                    Problem(
                        "sequence_not_increasing",
                        f"seq {cur.seq} follows seq {prev.seq} in the chain",
                    )
                )
            if cur.prev_hash == prev_hash.hex():
                continue
            missing = all_hashes.get(bytes.fromhex(cur.prev_hash)) if cur.prev_hash else None
            if missing is not None:
                receipt, i = missing
                out.problems.append(
                    Problem(
                        "reading_removed",
                        f"the reading at {receipt.ts[i].isoformat()} (seq {receipt.seqs[i]}), "
                        f"signed in batch {receipt.batch_id}, is not in the database: removed "
                        f"between seq {prev.seq} and seq {cur.seq}",
                    )
                )
            else:
                out.problems.append(
                    Problem(
                        "chain_gap",
                        f"between seq {prev.seq} and seq {cur.seq} the chain names a reading "
                        "never received (lost before the stream, or still on its way)",
                    )
                )
    if unexplained:
        first = unexplained[0]
        out.problems.append(
            Problem(
                "raw_words_unexplained",
                f"{len(unexplained)} reading(s), first at {first.ts.isoformat()} "
                f"({first.energy_wh} Wh from words {list(first.raw_words)}, scale factor "
                f"{first.scale_factor}), are no integer word order × 10^scale factor: a float or "
                "multiplied register (the gateway's map says how); signed as read",
            )
        )
    for kind, text in findings:
        out.problems.append(Problem(kind, text))
    return out
