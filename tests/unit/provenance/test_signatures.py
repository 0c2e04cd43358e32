"""The core verifies signed batches against the registry's keys (stream.signatures)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from schemas.signing_keys import SigningKey
from stream.core import Core
from stream.directory import MeterInfo, StaticDirectory
from stream.errors import ReasonCode
from stream.signatures import StaticKeys
from tests.provenance_support import T0, chained, new_signer, registered, signed_payload

SIGNER = new_signer()
OTHER = new_signer()
DIRECTORY = StaticDirectory(
    [
        MeterInfo("M1", "S1", "America/New_York", Decimal(50), None, "gw-1"),
        MeterInfo("M2", "S2", "America/New_York", Decimal(50), None, "gw-1"),
    ]
)


def core(*keys: SigningKey, signed: frozenset[str] = frozenset({"M1"})) -> Core:
    ring = StaticKeys({k.key_id: k for k in keys}, signed)
    return Core(DIRECTORY, keys=ring)


def only_reject(payload: bytes, c: Core) -> tuple[ReasonCode, str]:
    got = c.triage(payload, now=T0 + timedelta(hours=1))
    assert got.to_write == []
    [reject] = got.rejects
    assert reject.payload == payload
    return reject.code, reject.reason


def test_a_signed_batch_is_accepted_with_its_receipt() -> None:
    """A batch signed by the gateway's registered key: readings kept, receipt to store."""
    readings = chained("M1", "gw-1", 3)
    got = core(registered(SIGNER, "gw-1")).triage(signed_payload(readings, SIGNER), now=T0)
    assert [r.seq for r in got.to_write] == [1, 2, 3]
    assert got.rejects == []
    assert got.receipt is not None
    assert (got.receipt.meter_id, got.receipt.key_id, got.receipt.seqs) == (
        "M1", SIGNER.key_id, (1, 2, 3),
    )  # fmt: skip
    assert got.receipt.prev_hashes[1:] == tuple(r.prev_hash for r in readings[1:])


def test_an_unsigned_batch_of_a_signed_meter_is_refused() -> None:
    """unsigned_batch, naming the meter and what to configure."""
    code, reason = only_reject(signed_payload(chained("M1", "gw-1", 2), None), core())
    assert code is ReasonCode.UNSIGNED_BATCH
    assert "meter 'M1' is registered as signed" in reason


def test_an_unsigned_batch_of_an_unsigned_meter_passes() -> None:
    """Meters not registered as signed keep working unsigned (no receipt)."""
    got = core().triage(signed_payload(chained("M2", "gw-1", 2), None), now=T0)
    assert (len(got.to_write), got.rejects, got.receipt) == (2, [], None)


def test_an_altered_batch_is_refused_as_bad_signature() -> None:
    """One register value changed after signing: bad_signature, whatever the meter."""
    payload = signed_payload(chained("M2", "gw-1", 2), SIGNER)
    data = json.loads(payload)
    data["readings"][1]["energy_wh"] += 1
    data["readings"][1].pop("content_hash")
    altered = json.dumps(data).encode()
    code, reason = only_reject(altered, core(registered(SIGNER, "gw-1")))
    assert code is ReasonCode.BAD_SIGNATURE
    assert "does not verify over its readings" in reason


def test_a_revoked_key_is_refused() -> None:
    """key_revoked, even for a batch claiming to be sent before the revocation."""
    key = registered(SIGNER, "gw-1", revoked_at=T0 + timedelta(minutes=30), revoked_reason="stolen")
    payload = signed_payload(chained("M1", "gw-1", 2), SIGNER, sent_at=T0)
    code, reason = only_reject(payload, core(key))
    assert code is ReasonCode.KEY_REVOKED
    assert "was revoked at 2026-03-10T15:30:00+00:00 (stolen)" in reason


def test_a_retired_key_still_verifies_what_it_signed_before() -> None:
    """Rotation: valid_until ends a key; a late batch sent before that still verifies, one
    sent after is key_not_valid."""
    key = registered(SIGNER, "gw-1", valid_until=T0 + timedelta(minutes=30))
    readings = chained("M1", "gw-1", 2)
    late = core(key).triage(signed_payload(readings, SIGNER), now=T0 + timedelta(days=2))
    assert len(late.to_write) == 2
    after = signed_payload(readings, SIGNER, sent_at=T0 + timedelta(minutes=31))
    code, _ = only_reject(after, core(key))
    assert code is ReasonCode.KEY_NOT_VALID


def test_another_gateways_key_is_refused() -> None:
    """gw-2's key signing a batch that claims gw-1: unknown_key, saying whose key it is."""
    payload = signed_payload(chained("M1", "gw-1", 2), OTHER)
    code, reason = only_reject(payload, core(registered(SIGNER, "gw-1"), registered(OTHER, "gw-2")))
    assert code is ReasonCode.UNKNOWN_KEY
    assert "(it is gw-2's)" in reason


def test_a_gateway_signing_for_a_meter_not_its_own_is_refused() -> None:
    """gw-2's valid signature on its own batch of gw-1's meter: the signature verifies, the
    reporting-party stage refuses it (provider_mismatch)."""
    keys = (registered(SIGNER, "gw-1"), registered(OTHER, "gw-2"))
    payload = signed_payload(chained("M1", "gw-2", 2), OTHER)
    got = core(*keys).triage(payload, now=T0 + timedelta(hours=1))
    assert got.to_write == []
    assert [r.code for r in got.rejects] == [ReasonCode.PROVIDER_MISMATCH] * 2


def test_a_signed_batch_whose_sequence_numbers_do_not_increase_is_refused() -> None:
    """The gateway sends in sequence order: a signed batch out of it is schema_invalid."""
    readings = chained("M1", "gw-1", 3)
    payload = signed_payload([readings[1], readings[0], readings[2]], SIGNER)
    code, reason = only_reject(payload, core(registered(SIGNER, "gw-1")))
    assert code is ReasonCode.SCHEMA_INVALID
    assert "sequence numbers do not increase ([2, 1, 3]…)" in reason
