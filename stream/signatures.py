"""Signed batches: verify a batch's Ed25519 signature against the registry's keys (pure).

`BatchVerifier` is configured once with a `KeySource` and called per message (a signature
covers a whole batch, so this runs before the per-reading stages):
- a batch of a meter registered as signed must be signed (else `unsigned_batch`);
- a signature names a key the registry holds *for the batch's sender* (else `unknown_key`),
  not revoked (`key_revoked`), valid when the batch was sent (`key_not_valid`), and it must
  verify over schemas.envelope.signing_message (`bad_signature`);
- a signed batch is of one meter, its sequence numbers increasing (else `schema_invalid`);
- a failing signature refuses the batch whatever the meter (it is evidence of tampering); a
  signature by a key nobody registered, on a meter not registered as signed, is ignored (the
  batch is taken as unsigned).
A verified batch yields a `BatchReceipt` — what its signature covers — that stream.persist
stores in `signed_batches` with the readings, so `pts provenance` can verify stored readings
again later. Cost: one Ed25519 verification per batch and one SHA-256 per reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schemas.envelope import batch_signing_message, decode_signature
from schemas.reading import ReadingBatch
from schemas.signing_keys import SigningKey
from stream.errors import ReasonCode


class KeySource(Protocol):
    def key(self, key_id: str) -> SigningKey | None:
        """The registered key with this id, or None."""

    def requires_signature(self, meter_id: str) -> bool:
        """Whether the meter is registered as signed."""


@dataclass(frozen=True, slots=True)
class StaticKeys:
    """Keys and signed meters held in memory (loaded from the registry, or built by tests)."""

    keys: dict[str, SigningKey]
    signed_meters: frozenset[str] = frozenset()

    def key(self, key_id: str) -> SigningKey | None:
        return self.keys.get(key_id)

    def requires_signature(self, meter_id: str) -> bool:
        return meter_id in self.signed_meters


@dataclass(frozen=True, slots=True)
class BatchReceipt:
    """What a verified signature covers: stored in `signed_batches`."""

    source: str
    source_id: str
    batch_id: str
    meter_id: str
    key_id: str
    sent_at: datetime
    signature: bytes
    ts: tuple[datetime, ...]
    seqs: tuple[int, ...]
    prev_hashes: tuple[str | None, ...]
    hashes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Refusal:
    code: ReasonCode
    reason: str


@dataclass(frozen=True, slots=True)
class Verification:
    """A refusal of the whole batch, or the receipt of a verified one (both None: unsigned)."""

    refusal: Refusal | None = None
    receipt: BatchReceipt | None = None


UNSIGNED = Verification()


class BatchVerifier:
    def __init__(self, keys: KeySource) -> None:
        self._keys = keys

    def __call__(self, batch: ReadingBatch, now: datetime) -> Verification:
        required = [
            m for m in {r.meter_id for r in batch.readings} if self._keys.requires_signature(m)
        ]
        signature = batch.signature
        if signature is None:
            if not required:
                return UNSIGNED
            return _refuse(
                ReasonCode.UNSIGNED_BATCH,
                f"meter {sorted(required)[0]!r} is registered as signed but batch "
                f"{batch.batch_id!r} of {batch.source_id} carries no signature; configure the "
                "gateway's signing_key_file (pts gateway keygen)",
            )
        key = self._keys.key(signature.key_id)
        if key is None or key.signer_id != batch.source_id or key.signer != batch.source:
            if not required and key is None:
                return UNSIGNED  # a key nobody registered, on meters not registered as signed
            owner = "" if key is None else f" (it is {key.signer_id}'s)"
            return _refuse(
                ReasonCode.UNKNOWN_KEY,
                f"batch {batch.batch_id!r} is signed with key {signature.key_id}, which the "
                f"registry does not hold for {batch.source.value} {batch.source_id}{owner}; "
                "register the sender's public key (pts provenance key add), then re-drive",
            )
        problem = key.problem_at(batch.sent_at, now)
        if problem is not None:
            revoked = key.revoked_at is not None and key.revoked_at <= now
            code = ReasonCode.KEY_REVOKED if revoked else ReasonCode.KEY_NOT_VALID
            return _refuse(code, f"batch {batch.batch_id!r}: {problem}")
        message, hashes = batch_signing_message(batch, key.key_id)
        try:
            raw = decode_signature(signature.value)
            Ed25519PublicKey.from_public_bytes(key.public_key_bytes).verify(raw, message)
        except (InvalidSignature, ValueError):
            return _refuse(
                ReasonCode.BAD_SIGNATURE,
                f"the signature of batch {batch.batch_id!r} by key {key.key_id} of "
                f"{batch.source_id} does not verify over its readings: the batch was altered "
                "after signing, or not signed by that key",
            )
        readings = batch.readings
        meters = {r.meter_id for r in readings}
        if len(meters) != 1:
            return _refuse(
                ReasonCode.SCHEMA_INVALID,
                f"signed batch {batch.batch_id!r} carries {len(meters)} meters; sign one "
                "meter per batch",
            )
        seqs = [r.seq for r in readings]
        if any(b <= a for a, b in pairwise(seqs)):
            return _refuse(
                ReasonCode.SCHEMA_INVALID,
                f"signed batch {batch.batch_id!r} of {batch.source_id}: sequence numbers do not "
                f"increase ({seqs[:10]}…); a gateway sends its readings in sequence order",
            )
        return Verification(
            receipt=BatchReceipt(
                batch.source.value,
                batch.source_id,
                batch.batch_id,
                readings[0].meter_id,
                key.key_id,
                batch.sent_at,
                raw,
                tuple(r.ts for r in readings),
                tuple(seqs),
                tuple(r.prev_hash for r in readings),
                tuple(hashes),
            )
        )


def _refuse(code: ReasonCode, reason: str) -> Verification:
    return Verification(refusal=Refusal(code, reason))
