"""Register decoding, scaling to integer Wh and request coalescing."""

from __future__ import annotations

import itertools
import math
import struct
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.errors import MeterExceptionError, RegisterMapError
from gateways.register_map import (
    WORDS,
    ClockRegister,
    EnergyRegister,
    ValueType,
    coalesce,
    decode_words,
    encode_value,
    image_from_reads,
    read_image,
    scaled_wh,
)

ORDERS = st.sampled_from(["big", "little"])
INT_RANGES: dict[str, tuple[int, int]] = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[ValueType, int | float]:
    kind: ValueType = draw(st.sampled_from(list(WORDS)))
    if kind in INT_RANGES:
        low, high = INT_RANGES[kind]
        return kind, draw(st.integers(low, high))
    if kind == "float32":
        return kind, draw(st.floats(allow_nan=False, width=32))
    return kind, draw(st.floats(allow_nan=False, width=64))


@given(typed_values(), ORDERS, ORDERS)
def test_decode_encode_round_trip(
    typed: tuple[ValueType, int | float], word_order: str, byte_order: str
) -> None:
    """decode(encode(v)) == v for every type, word order and byte order."""
    kind, value = typed
    words = encode_value(value, kind, word_order, byte_order)  # type: ignore[arg-type]
    assert len(words) == WORDS[kind]
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode_words(words, kind, word_order, byte_order) == value  # type: ignore[arg-type]


@given(st.sampled_from(list(WORDS)), ORDERS, ORDERS, st.data())
def test_encode_decode_round_trip_on_words(
    kind: ValueType, word_order: str, byte_order: str, data: st.DataObject
) -> None:
    """encode(decode(words)) == words for any register words (NaN payloads aside)."""
    words = tuple(data.draw(st.lists(st.integers(0, 0xFFFF), min_size=WORDS[kind],
                                     max_size=WORDS[kind])))  # fmt: skip
    value = decode_words(words, kind, word_order, byte_order)  # type: ignore[arg-type]
    if isinstance(value, float) and math.isnan(value):
        return
    assert encode_value(value, kind, word_order, byte_order) == words  # type: ignore[arg-type]


def test_decode_known_words() -> None:
    """Known layouts: ABCD, CDAB, BADC and DCBA orders of 0x01020304."""
    assert decode_words((0x0102, 0x0304), "uint32") == 0x01020304
    assert decode_words((0x0304, 0x0102), "uint32", "little") == 0x01020304
    assert decode_words((0x0201, 0x0403), "uint32", "big", "little") == 0x01020304
    assert decode_words((0x0403, 0x0201), "uint32", "little", "little") == 0x01020304
    assert decode_words((0xFFFF,), "int16") == -1
    assert decode_words((0x3F80, 0x0000), "float32") == 1.0


def test_decode_wrong_word_count() -> None:
    """A value given the wrong number of registers is a map error."""
    with pytest.raises(RegisterMapError, match=r"^uint32 needs 2 registers, got 1$"):
        decode_words((1,), "uint32")


@given(st.integers(0, 2**64 - 1), st.integers(0, 10))
def test_integer_registers_scale_exactly(raw: int, scale: int) -> None:
    """Integer registers with a non-negative scale give exact integer Wh."""
    assert scaled_wh(raw, scale) == raw * 10**scale


def test_scaled_wh_rules() -> None:
    """Negative scales and floats round half-to-even; multipliers apply exactly."""
    assert scaled_wh(1234565, -1) == 123456  # 123456.5 → even
    assert scaled_wh(1234575, -1) == 123458  # 123457.5 → even
    assert scaled_wh(1234576, -1) == 123458
    assert scaled_wh(2.5, 0) == 2
    assert scaled_wh(3.5, 0) == 4
    assert scaled_wh(0.1, 3) == 100  # 0.1000000000000000055… kWh
    assert scaled_wh(12, 0, Decimal(1000)) == 12000
    assert scaled_wh(7, 0, Decimal("2.5")) == 18  # 17.5 → even
    f32 = struct.unpack(">f", struct.pack(">f", 1234.5677))[0]
    assert scaled_wh(f32, 3) == 1234568


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (math.nan, "energy register holds nan, not a number of Wh"),
        (math.inf, "energy register holds inf, not a number of Wh"),
        (-1, "energy register is negative (-1)"),
        (-0.5, "energy register is negative (-0.5)"),
    ],
)
def test_scaled_wh_refuses(raw: float, message: str) -> None:
    """NaN, infinities and negative energy are refused with the value in the message."""
    with pytest.raises(RegisterMapError) as caught:
        scaled_wh(raw, 0)
    assert str(caught.value) == message


def test_coalesce_merges_adjacent_and_overlapping() -> None:
    """Adjacent and overlapping blocks share a read; distant ones do not."""
    assert coalesce([(10, 2), (12, 1), (11, 4), (100, 2)]) == [(10, 5), (100, 2)]
    assert coalesce([(10, 2), (14, 2)], max_gap=2) == [(10, 6)]
    assert coalesce([(10, 2), (14, 2)], max_gap=1) == [(10, 2), (14, 2)]
    assert coalesce([(0, 100), (100, 30)]) == [(0, 100), (100, 30)]  # 130 > 125
    assert coalesce([(0, 100), (100, 25)]) == [(0, 125)]
    assert coalesce([]) == []


def test_coalesce_refuses_impossible_blocks() -> None:
    """A block longer than one request, or outside the register space, is a map error."""
    with pytest.raises(RegisterMapError, match=r"^a block of 126 registers cannot be read"):
        coalesce([(0, 126)])
    with pytest.raises(RegisterMapError, match=r"^block 65535\+2 is outside the register space$"):
        coalesce([(65535, 2)])


@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 125)), max_size=30),
       st.integers(0, 10))  # fmt: skip
def test_coalesce_covers_every_block_within_limits(
    blocks: list[tuple[int, int]], max_gap: int
) -> None:
    """Every block lies whole inside one read; reads start in order and hold ≤ 125 registers."""
    reads = coalesce(blocks, max_gap=max_gap)
    for address, count in blocks:
        assert any(a <= address and address + count <= a + c for a, c in reads)
    for (a, _), (b, _) in itertools.pairwise(reads):
        assert a < b
    assert all(1 <= c <= 125 for _, c in reads)
    assert len(reads) <= len(set(blocks))


def test_energy_register_reads_value_and_scale_factor_together() -> None:
    """Value, scale factor and clock come from one request when close together."""
    register = EnergyRegister(address=100, kind="uint32", sf_address=98,
                              clock=ClockRegister(104))  # fmt: skip
    assert register.reads() == [(98, 8)]
    image = image_from_reads(
        [(98, 8)], [(0xFFFF, 0, 0, 500, 0, 0, 1_780_000_000 >> 16, 1_780_000_000 & 0xFFFF)]
    )
    decoded = register.decode(image)
    assert decoded.energy_wh == 50
    assert decoded.scale_factor == -1
    assert decoded.raw_words == (0, 500)
    assert decoded.meter_ts is not None
    assert decoded.meter_ts.isoformat() == "2026-05-28T20:26:40+00:00"


def test_read_image_missing_register_is_exception_2() -> None:
    """Reading past what a meter serves gives the same error a meter's exception 2 gives."""
    with pytest.raises(MeterExceptionError) as caught:
        read_image({0: 1}, 0, 2)
    assert caught.value.code == 2
    assert str(caught.value) == (
        "meter answered Modbus exception 2 (illegal data address) reading 2 registers at 0"
    )


def test_image_from_reads_checks_lengths() -> None:
    """A short answer is refused, not silently decoded."""
    with pytest.raises(RegisterMapError, match=r"^asked 2 registers at 5, got 1$"):
        image_from_reads([(5, 2)], [(1,)])
