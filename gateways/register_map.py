"""Register maps, pure: where a meter keeps its energy register and how to decode it.

Two kinds: SunSpec meters (models 201–204: `TotWhExp` acc32 with `TotWh_SF`), found by
discovery, and YAML maps for other meters (address, function code, type, word and byte order,
fixed scale or a scale-factor register). A value and its scale factor are always read in one
request, because a meter may change its scale factor between two requests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from gateways.errors import RegisterMapError

ValueType = Literal["int16", "uint16", "int32", "uint32", "uint64", "float32", "float64"]
WordOrder = Literal["big", "little"]  # big: most significant word first (Modbus usual)

WORDS: dict[str, int] = {
    "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "uint64": 4, "float32": 2, "float64": 4,
}  # fmt: skip
_STRUCT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "uint64": "Q",
           "float32": "f", "float64": "d"}  # fmt: skip

SUNSPEC_MARKER = (0x5375, 0x6E53)  # "SunS"
SUNSPEC_BASES = (40000, 0, 50000)
METER_MODELS = (201, 202, 203, 204)
# Offsets inside a 201–204 model block (after its id and length words).
TOT_WH_EXP = 36  # acc32, two words
TOT_WH_IMP = 44  # acc32
TOT_WH_SF = 52  # sunssf (int16)
SUNSSF_NOT_IMPLEMENTED = -32768


def decode_words(words: tuple[int, ...], kind: ValueType, word_order: WordOrder = "big",
                 byte_order: WordOrder = "big") -> int | float:  # fmt: skip
    """Decode register words into a number."""
    size = WORDS[kind]
    if len(words) != size:
        raise RegisterMapError(f"{kind} needs {size} registers, got {len(words)}")
    ordered = words if word_order == "big" else tuple(reversed(words))
    raw = b"".join(
        w.to_bytes(2, "big") if byte_order == "big" else w.to_bytes(2, "little") for w in ordered
    )
    value: int | float = struct.unpack(">" + _STRUCT[kind], raw)[0]
    return value


def encode_value(value: int | float, kind: ValueType, word_order: WordOrder = "big",
                 byte_order: WordOrder = "big") -> tuple[int, ...]:  # fmt: skip
    """Encode a number into register words (the simulator's side of decode_words)."""
    raw = struct.pack(">" + _STRUCT[kind], value)
    words = [raw[i : i + 2] for i in range(0, len(raw), 2)]
    out = tuple(int.from_bytes(w, "big" if byte_order == "big" else "little") for w in words)
    return out if word_order == "big" else tuple(reversed(out))


def scaled_wh(raw: int | float, scale_factor: int, multiplier: Decimal = Decimal(1)) -> int:
    """raw × 10^sf × multiplier in integer Wh; floats are rounded half-even to the Wh."""
    value = Decimal(str(raw)) if isinstance(raw, float) else Decimal(raw)
    exact = value.scaleb(scale_factor) * multiplier
    return int(exact.to_integral_value())


@dataclass(frozen=True, slots=True)
class EnergyRegister:
    """Where to read a meter's cumulative delivered energy, and how to turn it into Wh."""

    address: int  # first register of the value
    kind: ValueType
    function: int = 3
    word_order: WordOrder = "big"
    byte_order: WordOrder = "big"
    scale: int = 0  # fixed power of ten when there is no scale-factor register
    sf_address: int | None = None  # int16 scale-factor register, read in the same request
    multiplier: Decimal = Decimal(1)  # e.g. kWh → Wh is 1000; a CT ratio
    modulus_counts: int | None = None  # the register wraps after this many counts

    def span(self) -> tuple[int, int]:
        """(first address, count) of the one request that reads value and scale factor."""
        ends = [self.address, self.address + WORDS[self.kind]]
        if self.sf_address is not None:
            ends += [self.sf_address, self.sf_address + 1]
        first, last = min(ends), max(ends)
        if last - first > 125:
            raise RegisterMapError("value and scale factor are more than 125 registers apart")
        return first, last - first

    def decode(self, words: tuple[int, ...]) -> tuple[int, int, tuple[int, ...], int | None]:
        """(energy Wh, scale factor, raw value words, modulus Wh) from the span's words."""
        first, _ = self.span()
        value_words = words[self.address - first : self.address - first + WORDS[self.kind]]
        scale = self.scale
        if self.sf_address is not None:
            sf = decode_words((words[self.sf_address - first],), "int16")
            if sf == SUNSSF_NOT_IMPLEMENTED or not -10 <= int(sf) <= 10:
                raise RegisterMapError(f"scale factor register holds {sf}, not a usable power")
            scale = int(sf)
        raw = decode_words(value_words, self.kind, self.word_order, self.byte_order)
        if isinstance(raw, int) and raw < 0:
            raise RegisterMapError(f"energy register is negative ({raw})")
        modulus = (
            scaled_wh(self.modulus_counts, scale, self.multiplier) if self.modulus_counts else None
        )
        return scaled_wh(raw, scale, self.multiplier), scale, value_words, modulus


def sunspec_energy_register(model_start: int) -> EnergyRegister:
    """TotWhExp of a 201–204 meter model whose id word is at `model_start`."""
    data = model_start + 2
    return EnergyRegister(
        address=data + TOT_WH_EXP,
        kind="uint32",
        sf_address=data + TOT_WH_SF,
        modulus_counts=2**32,
    )
