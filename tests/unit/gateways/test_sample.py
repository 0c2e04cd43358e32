"""One conversion from a meter sample to a reading (the spool's and the demo's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateways.sample import MeterSample, reading_from_sample
from gateways.spool import Spool
from schemas.reading import QualityFlag, Source

T = datetime(2026, 10, 1, 4, 0, tzinfo=UTC)
SAMPLE = MeterSample(
    meter_id="M1",
    ts=T,
    gateway_ts=T + timedelta(seconds=2),
    energy_wh=1_234_567,
    unit_id=3,
    scale_factor=-1,
    raw_words=(0, 18, 214, 135),
    register_modulus_wh=10**9,
    flags=frozenset({QualityFlag.CLOCK_SKEW}),
)


def test_a_sample_becomes_a_gateway_reading_with_its_provenance() -> None:
    """Every field of the sample lands in the reading; the gateway is the source."""
    reading = reading_from_sample(SAMPLE, "gw-1", 42)
    assert (reading.meter_id, reading.ts, reading.energy_wh) == ("M1", T, 1_234_567)
    assert (reading.source, reading.source_id, reading.seq) == (Source.GATEWAY, "gw-1", 42)
    assert reading.received_at == T + timedelta(seconds=2)
    assert (reading.unit_id, reading.scale_factor) == (3, -1)
    assert reading.raw_words == (0, 18, 214, 135)
    assert reading.register_modulus_wh == 10**9
    assert reading.flags == frozenset({QualityFlag.CLOCK_SKEW})


def test_the_spool_stores_the_same_reading(tmp_path: Path) -> None:
    """The spool's reading equals the conversion's, with the spool's sequence number."""
    spool = Spool(tmp_path / "spool.sqlite", gateway_id="gw-1")
    try:
        (stored,) = spool.store([SAMPLE])
    finally:
        spool.close()
    expected = reading_from_sample(SAMPLE, "gw-1", stored.seq)
    assert stored.model_dump(exclude={"prev_hash"}) == expected.model_dump(exclude={"prev_hash"})
