"""The simulated meter: an exact integer register, its faults, and the truth it keeps."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from gateways.modbus_pdu import ReadRequest
from gateways.register_map import decode_words
from gateways.simulator import rtu_frames
from gateways.simulator.meter import (
    ACC32,
    SUNSPEC_ENERGY_ADDRESS,
    YAML_CLOCK_ADDRESS,
    YAML_ENERGY_ADDRESS,
    Faults,
    SimulatedMeter,
)
from gateways.simulator.solar import SolarProfile, clear_sky_fraction

ORIGIN = datetime(2026, 6, 1, tzinfo=UTC)
NOON = datetime(2026, 6, 1, 16, 45, tzinfo=UTC)  # about solar noon in Boston
NIGHT = datetime(2026, 6, 1, 5, tzinfo=UTC)  # 01:00 EDT


def meter(
    faults: Faults | None = None, start: int = 1_000, kind: Literal["sunspec", "yaml"] = "sunspec"
) -> SimulatedMeter:
    return SimulatedMeter("M1", 1, SolarProfile(10_000, 7, ORIGIN), start, kind, faults or Faults())


def test_clear_sky_is_zero_at_night_and_high_at_noon() -> None:
    """No sun at 01:00 EDT; a summer noon gives most of the nameplate; winter noon less."""
    assert clear_sky_fraction(NIGHT) == 0.0
    summer = clear_sky_fraction(NOON)
    winter = clear_sky_fraction(datetime(2026, 12, 21, 16, 45, tzinfo=UTC))
    assert 0.6 < summer < 0.8
    assert 0.2 < winter < summer


def test_register_counts_whole_minutes_only_in_daylight() -> None:
    """The register is constant within a minute and through the night."""
    m = meter()
    dawn = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)  # 04:30 EDT, before sunrise
    assert m.register_value(datetime(2026, 6, 1, 2, tzinfo=UTC)) == m.register_value(dawn)
    assert m.register_value(ORIGIN) == 1_000
    assert m.register_value(NOON) == m.register_value(NOON + timedelta(seconds=59))
    assert m.register_value(NOON + timedelta(minutes=1)) > m.register_value(NOON)


@settings(max_examples=50)
@given(st.lists(st.integers(0, 3 * 86400), min_size=2, max_size=8))
def test_truth_is_additive(offsets: list[int]) -> None:
    """Energy between instants adds up: the sum of consecutive truths equals the whole."""
    m = meter()
    instants = [ORIGIN + timedelta(seconds=s) for s in sorted(offsets)]
    parts = [m.truth_wh(a, b) for a, b in itertools.pairwise(instants)]
    assert all(p >= 0 for p in parts)
    assert sum(parts) == m.truth_wh(instants[0], instants[-1])
    assert m.register_value(instants[-1]) - m.register_value(instants[0]) == sum(parts)


def test_rollover_wraps_at_2_32() -> None:
    """A meter started near the wrap shows a smaller register afterwards; truth is unbroken."""
    m = meter(start=ACC32 - 500)
    end = ORIGIN + timedelta(days=1)
    produced = m.truth_wh(ORIGIN, end)
    assert produced > 500
    assert m.register_value(end) == produced - 500
    assert (m.register_value(end) - m.register_value(ORIGIN)) % ACC32 == produced


def test_reset_replacement_stuck_drift_and_exceptions() -> None:
    """Each fault changes exactly what it should."""
    reset_at = datetime(2026, 6, 2, 6, tzinfo=UTC)
    m = meter(Faults(reset_at=reset_at))
    later = datetime(2026, 6, 2, 18, tzinfo=UTC)
    assert m.register_value(later) == m.truth_wh(reset_at, later)

    swap = datetime(2026, 6, 2, 6, tzinfo=UTC)
    r = meter(Faults(replaced_at=swap, replacement_start_wh=5_000_000, replacement_serial="NEW-1"))
    assert r.register_value(later) == 5_000_000 + r.truth_wh(swap, later)
    assert (r.serial_at(swap - timedelta(seconds=1)), r.serial_at(swap)) == ("M1", "NEW-1")

    window = (NOON, NOON + timedelta(hours=1))
    s = meter(Faults(stuck=window))
    assert s.register_value(window[1]) == s.register_value(window[0])
    assert s.truth_wh(window[0], window[1]) == 0

    d = meter(Faults(clock_offset_s=30, clock_drift_s_per_day=86.4), kind="yaml")
    assert d.meter_time(ORIGIN + timedelta(days=2)) == ORIGIN + timedelta(days=2, seconds=202)

    e = meter(Faults(exception_code=4, exception_window=window))
    assert e.words(window[0], 3, SUNSPEC_ENERGY_ADDRESS, 2) == 4
    assert e.words(window[1], 3, SUNSPEC_ENERGY_ADDRESS, 2) == list(
        divmod(e.register_value(window[1]), 0x10000)
    )


def test_yaml_meter_serves_energy_and_clock() -> None:
    """The YAML meter's registers: uint32 Wh little word order, then its clock."""
    m = meter(Faults(clock_offset_s=-90), start=0x12345678, kind="yaml")
    words = m.words(ORIGIN, 3, YAML_ENERGY_ADDRESS, 4)
    assert words == [0x5678, 0x1234, *divmod(int(ORIGIN.timestamp()) - 90, 0x10000)]
    assert decode_words(tuple(words[2:]), "uint32") == int(ORIGIN.timestamp()) - 90
    assert m.words(ORIGIN, 4, YAML_ENERGY_ADDRESS, 2) == 2  # no input registers
    assert m.words(ORIGIN, 3, YAML_CLOCK_ADDRESS, 3) == 2  # past the last register


def test_rtu_frames() -> None:
    """CRC-16/MODBUS of the classic request 01 03 00 00 00 0A is C5 CD; frames round-trip."""
    frame = bytes.fromhex("01030000000AC5CD")
    assert rtu_frames.crc16(frame[:-2]) == 0xCDC5
    buffer = bytearray(frame + bytes.fromhex("01030000000AC5CE") + frame[:3])
    assert rtu_frames.parse_requests(buffer) == [ReadRequest(0, 1, 3, 0, 10)]  # bad CRC dropped
    assert buffer == bytearray(frame[:3])  # a partial frame waits for the rest
    reply = rtu_frames.read_response(ReadRequest(0, 1, 3, 0, 2), [0x1234, 0x5678])
    assert reply[:-2] == bytes.fromhex("0103041234 5678".replace(" ", ""))
    assert rtu_frames.crc16(reply[:-2]).to_bytes(2, "little") == reply[-2:]
    assert rtu_frames.exception_response(0, 7, 3, 2)[:3] == bytes([7, 0x83, 2])
