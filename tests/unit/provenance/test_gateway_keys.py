"""The gateway's key: keygen, loading, and what the agent publishes with it."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from gateways.agent import batch_payload, mark_replayed
from gateways.errors import ConfigError
from gateways.sample import MeterSample
from gateways.signing import generate_key, load_signer
from gateways.spool import Spool
from schemas.envelope import decode_wire_reading, reading_hash
from stream.core import Core
from stream.directory import MeterInfo, StaticDirectory
from stream.signatures import StaticKeys
from tests.provenance_support import registered

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_keygen_writes_a_private_key_once_and_it_loads(tmp_path: Path) -> None:
    """0600, never overwritten; load_signer gives the same key id."""
    path = tmp_path / "gw.key"
    made = generate_key(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_signer(path).key_id == made.key_id
    with pytest.raises(ConfigError, match="a key is never overwritten"):
        generate_key(path)


def test_a_file_that_is_not_a_key_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "gw.key"
    path.write_text("not a key")
    with pytest.raises(ConfigError, match="pts gateway keygen"):
        load_signer(path)


def test_the_agent_publishes_chained_signed_batches_the_stream_accepts(tmp_path: Path) -> None:
    """Spooled readings are chained per meter in seq order; the agent's signed batch (with a
    replayed reading flagged) verifies in the core and keeps the chain links."""
    signer = generate_key(tmp_path / "gw.key")
    spool = Spool(tmp_path / "s.db", "gw-3")
    samples = [
        MeterSample(
            meter_id=meter, ts=T0 + timedelta(minutes=5 * i),
            gateway_ts=T0 + timedelta(minutes=5 * i), energy_wh=1_000 + i, unit_id=1,
            scale_factor=0, raw_words=(0, 1_000 + i), register_modulus_wh=None,
        )
        for i in range(3)
        for meter in ("M1", "M2")
    ]  # fmt: skip
    readings = spool.store(samples)
    m1 = [r for r in readings if r.meter_id == "M1"]
    assert m1[0].prev_hash is None
    assert [r.prev_hash for r in m1[1:]] == [reading_hash(r).hex() for r in m1[:-1]]
    bodies = [body for _, meter, body in spool.pending(10) if meter == "M1"]
    wire = [decode_wire_reading(b) for b in bodies]
    payload = batch_payload("gw-3", [mark_replayed(wire[0]), *wire[1:]], signer)
    directory = StaticDirectory(
        [MeterInfo("M1", "S1", "America/New_York", Decimal(50), None, "gw-3")]
    )
    keys = StaticKeys({signer.key_id: registered(signer, "gw-3")}, frozenset({"M1"}))
    got = Core(directory, keys=keys).triage(payload, now=T0 + timedelta(hours=1))
    assert got.rejects == []
    assert [r.seq for r in got.to_write] == [r.seq for r in m1]
    assert got.receipt is not None
    assert got.receipt.prev_hashes == tuple(r.prev_hash for r in m1)
    spool.close()
