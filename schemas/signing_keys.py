"""A signer's public key as the registry holds it: who, which key, when it may sign.

Validity: a key signs batches sent in [valid_from, valid_until) (rotation: the next key's
valid_from is the old one's valid_until; a late batch signed before the change still
verifies). Revocation is different: a revoked key was compromised, so from `revoked_at` on
nothing it signed is accepted, whatever date the batch claims (a thief can backdate sent_at),
and readings it signed before are reported as signed by a revoked key.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.reading import Source

PUBLIC_KEY_BYTES = 32  # Ed25519


def key_id_of(public_key: bytes) -> str:
    """The id of an Ed25519 public key (raw 32 bytes): 'ed25519:' + 16 hex of its SHA-256."""
    return "ed25519:" + hashlib.sha256(public_key).hexdigest()[:16]


class SigningKey(BaseModel):
    """One public key of a gateway (or a DAS provider) and its validity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signer: Source = Source.GATEWAY
    signer_id: str = Field(min_length=1, max_length=128, description="gateway_id or provider_id")
    key_id: str = Field(min_length=1, max_length=128)
    public_key: str = Field(description="the raw 32-byte Ed25519 public key, base64")
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    revoked_at: AwareDatetime | None = None
    revoked_reason: str | None = None

    @model_validator(mode="after")
    def _key_matches_id(self) -> SigningKey:
        raw = self.public_key_bytes
        if len(raw) != PUBLIC_KEY_BYTES:
            raise ValueError(
                f"public_key is {len(raw)} bytes, an Ed25519 key is {PUBLIC_KEY_BYTES}"
            )
        if self.key_id != key_id_of(raw):
            raise ValueError(
                f"key_id {self.key_id!r} is not the id of this public key ({key_id_of(raw)!r})"
            )
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self

    @property
    def public_key_bytes(self) -> bytes:
        return base64.b64decode(self.public_key, validate=True)

    def problem_at(self, sent_at: datetime, now: datetime) -> str | None:
        """Why this key may not sign a batch sent at `sent_at`, checked at `now` (None: it may)."""
        name = f"key {self.key_id} of {self.signer_id}"
        if self.revoked_at is not None and self.revoked_at <= now:
            why = f" ({self.revoked_reason})" if self.revoked_reason else ""
            return f"{name} was revoked at {self.revoked_at.isoformat()}{why}"
        until = self.valid_until
        if sent_at < self.valid_from or (until is not None and sent_at >= until):
            return (
                f"{name} is valid from {self.valid_from.isoformat()} until "
                f"{until.isoformat() if until else 'open'}, not at {sent_at.isoformat()}"
            )
        return None
