"""Agent pieces without I/O: the batch payload built from spooled JSON, the YAML config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateways.agent import batch_payload, mark_replayed
from gateways.agent_config import load_config
from gateways.errors import ConfigError
from gateways.publisher import readings_topic
from gateways.sample import MeterSample
from gateways.spool import Spool
from schemas.envelope import decode_wire_reading, encode_wire_reading
from schemas.reading import QualityFlag, Reading, ReadingBatch, Source

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_batch_payload_is_a_reading_batch_of_the_spooled_readings(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", "gw-3")
    samples = [
        MeterSample(
            meter_id="M1",
            ts=T0 + timedelta(minutes=5 * i),
            gateway_ts=T0,
            energy_wh=1000 + i,
            unit_id=1,
            scale_factor=-1,
            raw_words=(0, i),
            register_modulus_wh=None,
        )
        for i in range(3)
    ]
    readings = spool.store(samples)
    payload = batch_payload("gw-3", [body for _, _, body in spool.pending(10)])
    batch = ReadingBatch.model_validate_json(payload)
    assert batch.source is Source.GATEWAY
    assert batch.source_id == "gw-3"
    assert batch.readings == tuple(readings)
    assert [r.content_hash for r in batch.readings] == [r.content_hash for r in readings]
    spool.close()


def test_topic_is_per_gateway_and_meter() -> None:
    assert readings_topic("gw-3", "MTR-1") == "pts/v1/gw-3/MTR-1/readings"


def test_config_loads_from_yaml_and_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "gateway_id: site-042\ninterval_s: 60\nspool_path: /tmp/s.db\n"
        "mqtt: {host: broker, port: 8883, username: site-042, password: pw, ca_file: /ca.crt}\n"
        "meters:\n  - {meter_id: MTR-1, host: 192.0.2.10, port: 502, unit_id: 1, map: sunspec}\n"
    )
    config = load_config(path)
    assert (config.gateway_id, config.interval_s, config.spool_path) == (
        "site-042", 60, Path("/tmp/s.db"),
    )  # fmt: skip
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.ca_file) == (
        "broker", 8883, Path("/ca.crt"),
    )  # fmt: skip
    assert [(m.meter_id, m.host, m.port, m.unit_id) for m in config.meters] == [
        ("MTR-1", "192.0.2.10", 502, 1)
    ]
    path.write_text("gateway_id: site-042\nmeters: []\nmqtt: {hostname: x}\n")
    with pytest.raises(ConfigError, match="hostname"):
        load_config(path)


def test_a_replayed_reading_is_flagged_and_keeps_its_hash(tmp_path: Path) -> None:
    """mark_replayed adds REPLAYED once, keeps other flags; the content hash still holds."""
    spool = Spool(tmp_path / "spool.db", "gw-1")
    sample = MeterSample(
        meter_id="M1", ts=T0, gateway_ts=T0, energy_wh=1_234, unit_id=1, scale_factor=0,
        raw_words=(0, 1_234), register_modulus_wh=2**32, flags=frozenset({QualityFlag.CLOCK_SKEW}),
    )  # fmt: skip
    (stored,) = spool.store([sample])
    ((_, _, body),) = spool.pending(10)
    once = mark_replayed(decode_wire_reading(body))
    again = Reading.model_validate_json(encode_wire_reading(mark_replayed(once)))
    assert again.flags == {QualityFlag.CLOCK_SKEW, QualityFlag.REPLAYED}
    assert again.content_hash == stored.content_hash
    assert again.model_copy(update={"flags": stored.flags}) == stored


def test_broker_password_from_a_file(tmp_path: Path) -> None:
    """`mqtt.password_file` keeps the secret out of the site config; a missing file is a
    clear configuration error."""
    secret = tmp_path / "broker.pw"
    secret.write_text("s3cret-from-file\n")
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"gateway_id: site-042\nmqtt: {{username: site-042, password_file: {secret}}}\nmeters: []\n"
    )
    assert load_config(path).mqtt.secret() == "s3cret-from-file"
    secret.unlink()
    with pytest.raises(ConfigError, match="cannot read the broker password"):
        load_config(path).mqtt.secret()
