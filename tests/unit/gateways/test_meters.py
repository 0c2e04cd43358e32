"""Meter configuration and YAML maps."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateways.errors import ConfigError
from gateways.meters import GatewayMeters, MeterConfig
from gateways.register_map import ClockRegister, EnergyRegister
from gateways.yaml_map import MAPS_DIR, load_map


def test_links_group_meters() -> None:
    """Meters on one host:port (or serial port) share a link name."""
    a = MeterConfig(meter_id="a", host="10.0.0.5", port=502, unit_id=1)
    b = MeterConfig(meter_id="b", host="10.0.0.5", port=502, unit_id=2)
    c = MeterConfig(meter_id="c", transport="rtu", serial_port="/dev/ttyUSB0", unit_id=3)
    d = MeterConfig(meter_id="d", transport="rtu-over-tcp", host="10.0.0.6", port=4001)
    assert (a.link, b.link, c.link, d.link) == (
        "tcp:10.0.0.5:502", "tcp:10.0.0.5:502", "rtu:/dev/ttyUSB0", "rtu-over-tcp:10.0.0.6:4001",
    )  # fmt: skip
    assert (a.timeout_s, a.retries, a.clock_skew_limit_s) == (1.0, 0, 120.0)


def test_rtu_needs_a_serial_port() -> None:
    """transport rtu without serial_port is refused with the meter named."""
    with pytest.raises(ValidationError, match="meter m1: transport rtu needs serial_port"):
        MeterConfig(meter_id="m1", transport="rtu")


def test_gateway_meters_refuses_duplicates() -> None:
    """A meter id twice, or two meters on one link and unit id, are refused."""
    with pytest.raises(ValidationError, match=r"meter ids configured twice: \['a'\]"):
        GatewayMeters(meters=[MeterConfig(meter_id="a"), MeterConfig(meter_id="a", unit_id=2)])
    with pytest.raises(ValidationError, match=r"two meters on one link and unit id: \['tcp:1"):
        GatewayMeters(meters=[MeterConfig(meter_id="a"), MeterConfig(meter_id="b")])
    ok = GatewayMeters(meters=[MeterConfig(meter_id="a"), MeterConfig(meter_id="b", unit_id=2)])
    assert ok.interval_s == 300


def test_shipped_maps_load() -> None:
    """The shipped simulator maps load into the registers the simulator serves."""
    assert sorted(p.stem for p in MAPS_DIR.glob("*.yaml")) == [
        "pts-sim-uint32-le", "pts-sim-uint32-le-clock",
    ]  # fmt: skip
    assert load_map("pts-sim-uint32-le") == EnergyRegister(
        address=256, kind="uint32", word_order="little", modulus_counts=2**32
    )
    clocked = load_map("pts-sim-uint32-le-clock")
    assert clocked.clock == ClockRegister(258, "uint32", "big")
    assert clocked.reads() == [(256, 4)]


def test_map_by_path_and_errors(tmp_path: Path) -> None:
    """A map file by path; an unknown name lists the shipped maps; a bad map says why."""
    path = tmp_path / "kwh.yaml"
    path.write_text("name: kwh\nenergy: {address: 7, type: float32, multiplier: 1000}\n")
    assert load_map(str(path)).multiplier == Decimal(1000)
    with pytest.raises(ConfigError) as caught:
        load_map("nope")
    assert str(caught.value) == (
        "register map 'nope' not found (a path, or one of ['pts-sim-uint32-le',"
        " 'pts-sim-uint32-le-clock'])"
    )
    path.write_text("name: x\nenergy: {address: 7, type: uint32, scale: 1,"
                    " scale_factor_address: 9}\n")  # fmt: skip
    with pytest.raises(ConfigError, match="give either scale or scale_factor_address, not both"):
        load_map(str(path))
