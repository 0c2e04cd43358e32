"""Fuzz the YAML register maps (gateways.yaml_map.read_map): any text gives a register the
poller can read, or a ConfigError saying what is wrong; nothing else escapes."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from gateways.errors import ConfigError
from gateways.register_map import MAX_READ
from gateways.yaml_map import read_map
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.yaml_texts import dump, hostile, values

TYPES = ["int16", "uint16", "int32", "uint32", "uint64", "float32", "float64"]


@st.composite
def map_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Maps whose fields are mostly plausible, sometimes wrong."""

    def field(good: st.SearchStrategy[Any]) -> Any:
        return draw(st.one_of(good, good, good, values))

    energy: dict[str, Any] = {
        "address": field(st.integers(-5, 70_000)),
        "type": field(st.sampled_from([*TYPES, "int8", "UINT32"])),
    }
    optional = {
        "function": st.sampled_from([3, 4, 5, "3"]),
        "word_order": st.sampled_from(["big", "little", "middle"]),
        "byte_order": st.sampled_from(["big", "little"]),
        "scale": st.integers(-20, 20),
        "scale_factor_address": st.integers(-1, 70_000),
        "multiplier": st.one_of(st.decimals(allow_nan=True).map(str), st.integers(-5, 10**30)),
        "wraps": st.booleans(),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            energy[name] = field(strategy)
    doc: dict[str, Any] = {"name": field(st.text(max_size=20)), "energy": energy}
    if draw(st.booleans()):
        doc["clock"] = {
            "address": field(st.integers(-1, 70_000)),
            "type": field(st.sampled_from(["uint32", "uint64", "int16"])),
        }
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.text(max_size=8))] = draw(values)
    return doc


texts = st.one_of(map_documents().map(dump), map_documents().map(dump), hostile())


@fuzz_settings
@given(text=texts)
@example(text="name: far\nenergy: {address: 65534, type: uint64}\n")
@example(text="name: apart\nenergy: {address: 0, type: uint32, scale_factor_address: 60000}\n")
@example(text="[" * 100_000 + "]" * 100_000)
def test_fuzz_register_map_gives_a_readable_register_or_a_config_error(text: str) -> None:
    """A map either loads into a register whose reads fit the register space and one request
    each, or is refused with a ConfigError naming the map and the reason."""
    try:
        register = read_map(text, "register map fuzz.yaml")
    except ConfigError as exc:
        refusal = str(exc)
        register = None
    if register is None:
        assert refusal.startswith("register map fuzz.yaml: ")
        return
    for first, count in register.reads():
        assert first >= 0
        assert 1 <= count <= MAX_READ
        assert first + count <= 65_536
