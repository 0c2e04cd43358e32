"""Fuzz the poller's decoding of Modbus answers (gateways.register_map): whatever 16-bit words
a meter answers, and however many, the result is a sample within bounds or a GatewayError that
fails the poll (the poller catches only those; anything else would stop the gateway)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from gateways.errors import GatewayError
from gateways.register_map import (
    WORDS,
    WRAP_COUNTS,
    ClockRegister,
    EnergyRegister,
    image_from_reads,
)
from tests.fuzz.budget import fuzz_settings

MAX_WH = 2**63 - 1  # PostgreSQL bigint: what the spool, the stream and storage can hold
KINDS = ["int16", "uint16", "int32", "uint32", "uint64", "float32", "float64"]


@st.composite
def registers(draw: st.DrawFn) -> EnergyRegister:
    kind = draw(st.sampled_from(KINDS))
    address = draw(st.integers(0, 60_000))
    sf_address = draw(st.none() | st.integers(max(0, address - 100), address + 100))
    clock = draw(
        st.none()
        | st.builds(
            ClockRegister,
            address=st.integers(address + 4, address + 40),
            kind=st.sampled_from(["uint32", "uint64"]),
            word_order=st.sampled_from(["big", "little"]),
        )
    )
    return EnergyRegister(
        address=address,
        kind=kind,  # type: ignore[arg-type]
        word_order=draw(st.sampled_from(["big", "little"])),
        byte_order=draw(st.sampled_from(["big", "little"])),
        scale=draw(st.integers(-10, 10)),
        sf_address=sf_address if sf_address != address else None,
        multiplier=draw(
            st.sampled_from([Decimal(1), Decimal(1000), Decimal("0.001"), Decimal(400)])
        ),
        modulus_counts=WRAP_COUNTS.get(kind) if draw(st.booleans()) else None,
        clock=clock,
    )


words = st.integers(0, 0xFFFF)


@fuzz_settings
@given(register=registers(), data=st.data())
@example(
    register=EnergyRegister(address=0, kind="uint32", clock=ClockRegister(10, "uint64")),
    data=None,
)
def test_fuzz_modbus_answers_decode_within_bounds_or_fail_the_poll(
    register: EnergyRegister, data: st.DataObject | None
) -> None:
    """Decoded energy is a whole number of Wh in 0..2^63-1 and a meter clock is a datetime;
    anything else is a GatewayError."""
    try:
        reads = register.reads()
    except GatewayError:
        return  # refused when the map loads (tests/fuzz/test_fuzz_register_maps.py)
    answers = []
    for _, count in reads:
        if data is None:  # the explicit example: every word 0xFFFF
            answers.append((0xFFFF,) * count)
            continue
        size = data.draw(st.sampled_from([count, count, count, 0, count - 1, count + 1]))
        answers.append(tuple(data.draw(st.lists(words, min_size=size, max_size=size))))
    try:
        decoded = register.decode(image_from_reads(reads, answers))
    except GatewayError:
        return
    assert isinstance(decoded.energy_wh, int)
    assert 0 <= decoded.energy_wh <= MAX_WH
    assert len(decoded.raw_words) == WORDS[register.kind]
