"""Signed batches for the provenance tests (not a test module)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateways.signing import Ed25519Signer
from schemas.envelope import WireReading, decode_wire_reading, encode_wire_batch, reading_hash
from schemas.reading import Reading, Source
from schemas.signing_keys import SigningKey

T0 = datetime(2026, 3, 10, 15, tzinfo=UTC)


def new_signer() -> Ed25519Signer:
    return Ed25519Signer.of(Ed25519PrivateKey.generate())


def registered(
    signer: Ed25519Signer,
    gateway_id: str,
    valid_from: datetime = T0 - timedelta(days=365),
    **update: object,
) -> SigningKey:
    """The registry record of a signer's public key."""
    values: dict[str, object] = {
        "signer_id": gateway_id,
        "key_id": signer.key_id,
        "public_key": base64.b64encode(signer.private_key.public_key().public_bytes_raw()).decode(),
        "valid_from": valid_from,
    }
    values.update(update)
    return SigningKey.model_validate(values)


def chained(
    meter_id: str,
    gateway_id: str,
    count: int,
    start: int = 0,
    prev: str | None = None,
    seq0: int = 1,
    minutes: int = 5,
    wh0: int = 1_000,
    wh_step: int = 100,
    t0: datetime = T0,
) -> list[Reading]:
    """`count` readings of a meter from a gateway, each linked to the one before."""
    out: list[Reading] = []
    for i in range(start, start + count):
        ts = t0 + timedelta(minutes=minutes * i)
        wh = wh0 + wh_step * i
        reading = Reading(
            meter_id=meter_id, ts=ts, energy_wh=wh, source=Source.GATEWAY,
            source_id=gateway_id, seq=seq0 + i, received_at=ts + timedelta(seconds=1),
            unit_id=1, scale_factor=0, raw_words=(wh >> 16, wh & 0xFFFF), prev_hash=prev,
        )  # fmt: skip
        prev = reading_hash(reading).hex()
        out.append(reading)
    return out


def wire(readings: list[Reading]) -> list[WireReading]:
    return [decode_wire_reading(r.model_dump_json()) for r in readings]


def signed_payload(
    readings: list[Reading],
    signer: Ed25519Signer | None,
    batch_id: str = "b1",
    sent_at: datetime | None = None,
    gateway_id: str | None = None,
) -> bytes:
    sender = gateway_id or readings[0].source_id
    when = sent_at or readings[-1].received_at
    return encode_wire_batch(batch_id, "gateway", sender, when, wire(readings), signer)
