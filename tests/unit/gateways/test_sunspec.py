"""SunSpec discovery as a state machine: which reads it asks for, and how it ends."""

from __future__ import annotations

import pytest

from gateways.errors import MeterExceptionError, RegisterMapError
from gateways.sunspec import (
    SUNSPEC_MARKER,
    SunSpecDiscovery,
    meter_register,
)


def test_discovery_asks_marker_then_headers() -> None:
    """4 words at the base (marker + first header), then 2 words per model header."""
    walk = SunSpecDiscovery()
    assert walk.next_read() == (40000, 4)
    walk.feed((*SUNSPEC_MARKER, 1, 66))
    assert walk.next_read() == (40070, 2)
    walk.feed((204, 105))
    assert walk.next_read() is None
    assert walk.found is not None
    assert (walk.found.base, walk.found.model_id, walk.found.model_address) == (40000, 204, 40070)
    assert walk.found.register.address == 40072 + 36
    assert walk.found.register.sf_address == 40072 + 52


def test_exception_2_at_a_base_moves_on_other_codes_propagate() -> None:
    """Exception 2 at a candidate base means 'not here'; exception 4 is the meter's failure."""
    walk = SunSpecDiscovery()
    walk.next_read()
    walk.refused(MeterExceptionError(2, "reading 4 registers at 40000"))
    assert walk.next_read() == (0, 4)
    with pytest.raises(MeterExceptionError) as caught:
        walk.refused(MeterExceptionError(4, "reading 4 registers at 0"))
    assert caught.value.code == 4


def test_chain_too_long_is_refused() -> None:
    """A chain that never ends (a broken device) stops after 64 models."""
    walk = SunSpecDiscovery(where="m1")
    assert walk.next_read() == (40000, 4)
    walk.feed((*SUNSPEC_MARKER, 1, 0))

    def walk_forever() -> None:
        while walk.next_read() is not None:
            walk.feed((1, 0))  # model 1 of length 0, forever

    with pytest.raises(RegisterMapError, match=r"^m1: SunSpec chain longer than 64 models$"):
        walk_forever()


def test_meter_register_per_model() -> None:
    """201–204 give acc32 TotWhExp; 701 gives uint64 TotWhInj; others none."""
    for model in (201, 202, 203, 204):
        register = meter_register(model, 100)
        assert register is not None
        assert (register.address, register.kind, register.sf_address) == (138, "uint32", 154)
        assert register.modulus_counts == 2**32
    der = meter_register(701, 100)
    assert der is not None
    assert (der.address, der.kind, der.sf_address, der.reads()) == (119, "uint64", 220,
                                                                     [(119, 102)])  # fmt: skip
    assert meter_register(101, 100) is None
