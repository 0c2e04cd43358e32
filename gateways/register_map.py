"""Register maps, pure: where a meter keeps its energy register and how to decode it.

Two kinds of map end up here: SunSpec meters (gateways/sunspec.py finds the model and gives
an `EnergyRegister`) and YAML maps for other meters (gateways/yaml_map.py). A value and its
scale factor are always read in one request, because a meter may change its scale factor
between two requests; blocks that sit close together are coalesced into as few requests as
possible (at most 125 registers each, the Modbus limit for function codes 3 and 4).

Integer rule: energy Wh = raw × 10^scale × multiplier, computed exactly in Decimal, then
rounded half-to-even to the Wh (integer registers with scale ≥ 0 are therefore exact).
Floats: the same, starting from the float's exact binary value (never its decimal repr);
NaN, infinities and negative energy are refused.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from gateways.errors import MeterExceptionError, RegisterMapError

ValueType = Literal["int16", "uint16", "int32", "uint32", "uint64", "float32", "float64"]
WordOrder = Literal["big", "little"]  # big: most significant word (or byte) first

MAX_READ = 125  # registers per read request (Modbus function codes 3 and 4)
WORDS: dict[str, int] = {
    "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "uint64": 4, "float32": 2, "float64": 4,
}  # fmt: skip
_STRUCT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "uint64": "Q",
           "float32": "f", "float64": "d"}  # fmt: skip
WRAP_COUNTS: dict[str, int] = {"uint16": 2**16, "uint32": 2**32, "uint64": 2**64}
SUNSSF_NOT_IMPLEMENTED = -32768
SCALE_LIMIT = 10  # SunSpec sunssf range is -10..10
MAX_CLOCK_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_ENERGY_WH = 2**63 - 1  # PostgreSQL bigint: what the spool, the stream and storage hold


def decode_words(
    words: tuple[int, ...],
    kind: ValueType,
    word_order: WordOrder = "big",
    byte_order: WordOrder = "big",
) -> int | float:
    """Decode register words into a number."""
    size = WORDS[kind]
    if len(words) != size:
        raise RegisterMapError(f"{kind} needs {size} registers, got {len(words)}")
    ordered = words if word_order == "big" else tuple(reversed(words))
    raw = b"".join(w.to_bytes(2, byte_order) for w in ordered)
    value: int | float = struct.unpack(">" + _STRUCT[kind], raw)[0]
    return value


def encode_value(
    value: int | float,
    kind: ValueType,
    word_order: WordOrder = "big",
    byte_order: WordOrder = "big",
) -> tuple[int, ...]:
    """Encode a number into register words (the simulator's side of decode_words)."""
    raw = struct.pack(">" + _STRUCT[kind], value)
    out = tuple(int.from_bytes(raw[i : i + 2], byte_order) for i in range(0, len(raw), 2))
    return out if word_order == "big" else tuple(reversed(out))


def scaled_wh(raw: int | float, scale: int, multiplier: Decimal = Decimal(1)) -> int:
    """raw × 10^scale × multiplier in integer Wh, rounded half-to-even (see module doc)."""
    if isinstance(raw, float) and not math.isfinite(raw):
        raise RegisterMapError(f"energy register holds {raw}, not a number of Wh")
    exact = Decimal(raw).scaleb(scale) * multiplier  # Decimal(float) is the exact binary value
    if exact < 0:
        raise RegisterMapError(f"energy register is negative ({raw})")
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def coalesce(
    blocks: Iterable[tuple[int, int]], max_count: int = MAX_READ, max_gap: int = 0
) -> list[tuple[int, int]]:
    """Merge (address, count) blocks into as few reads as possible, in address order.

    Overlapping blocks, and blocks at most `max_gap` registers apart, share one read as long
    as it stays within `max_count` registers; a block is never split across reads (so a
    block overlapping a read it no longer fits into gets a read of its own that overlaps).
    """
    reads: list[tuple[int, int]] = []
    for address, count in sorted(set(blocks)):
        if count < 1 or count > max_count:
            raise RegisterMapError(f"a block of {count} registers cannot be read in one request")
        if address < 0 or address + count > 65536:
            raise RegisterMapError(f"block {address}+{count} is outside the register space")
        if reads:
            first, length = reads[-1]
            end = max(first + length, address + count)
            if address <= first + length + max_gap and end - first <= max_count:
                reads[-1] = (first, end - first)
                continue
        reads.append((address, count))
    return reads


def read_image(image: Mapping[int, int], address: int, count: int) -> tuple[int, ...]:
    """Words of a read served from a register image; a missing register is exception 2."""
    try:
        return tuple(image[a] for a in range(address, address + count))
    except KeyError:
        raise MeterExceptionError(
            2, f"reading {count} registers at {address}"
        ) from None  # same reason a meter gives


@dataclass(frozen=True, slots=True)
class ClockRegister:
    """A meter clock: seconds since the UTC epoch as an unsigned integer."""

    address: int
    kind: Literal["uint32", "uint64"] = "uint32"
    word_order: WordOrder = "big"

    def decode(self, image: Mapping[int, int]) -> datetime:
        words = tuple(image[a] for a in range(self.address, self.address + WORDS[self.kind]))
        seconds = int(decode_words(words, self.kind, self.word_order))
        if seconds > MAX_CLOCK_SECONDS:  # a uint64 goes far past what a datetime holds
            raise RegisterMapError(
                f"meter clock register {self.address} holds {seconds}, not a time (seconds "
                f"since 1970 up to {MAX_CLOCK_SECONDS}, the end of year 9999)"
            )
        return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class Decoded:
    """One energy register read, decoded."""

    energy_wh: int
    scale_factor: int
    raw_words: tuple[int, ...]
    register_modulus_wh: int | None
    meter_ts: datetime | None


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
    not_implemented: int | None = None  # the value a meter serves when it has no such point
    clock: ClockRegister | None = None
    max_gap: int = 8  # read up to this many unused registers to save a request

    def value_block(self) -> tuple[int, int]:
        """(first address, count) of the value with its scale factor: never split."""
        ends = [self.address, self.address + WORDS[self.kind]]
        if self.sf_address is not None:
            ends += [self.sf_address, self.sf_address + 1]
        first, last = min(ends), max(ends)
        if last - first > MAX_READ:
            raise RegisterMapError(
                f"value at {self.address} and scale factor at {self.sf_address} are more than"
                f" {MAX_READ} registers apart: they cannot be read in one request"
            )
        return first, last - first

    def reads(self) -> list[tuple[int, int]]:
        """The (first address, count) requests that read everything this register needs."""
        blocks = [self.value_block()]
        if self.clock is not None:
            blocks.append((self.clock.address, WORDS[self.clock.kind]))
        return coalesce(blocks, max_gap=self.max_gap)

    def decode(self, image: Mapping[int, int]) -> Decoded:
        """Decode from the words the reads returned (address → word)."""
        value_words = tuple(image[a] for a in range(self.address, self.address + WORDS[self.kind]))
        scale = self.scale
        if self.sf_address is not None:
            sf = int(decode_words((image[self.sf_address],), "int16"))
            if sf == SUNSSF_NOT_IMPLEMENTED or not -SCALE_LIMIT <= sf <= SCALE_LIMIT:
                raise RegisterMapError(
                    f"scale factor register {self.sf_address} holds {sf}, not a power of ten"
                    f" in -{SCALE_LIMIT}..{SCALE_LIMIT}"
                )
            scale = sf
        raw = decode_words(value_words, self.kind, self.word_order, self.byte_order)
        if self.not_implemented is not None and raw == self.not_implemented:
            raise RegisterMapError(
                f"energy register {self.address} holds {raw}: the meter does not implement it"
            )
        modulus = None
        if self.modulus_counts is not None:
            modulus = scaled_wh(self.modulus_counts, scale, self.multiplier)
            if modulus > MAX_ENERGY_WH:  # (uint64) it cannot wrap before values are refused
                modulus = None
        meter_ts = self.clock.decode(image) if self.clock is not None else None
        energy_wh = scaled_wh(raw, scale, self.multiplier)
        if energy_wh > MAX_ENERGY_WH:
            raise RegisterMapError(
                f"energy register {self.address} holds {raw} (× 10^{scale} × {self.multiplier}"
                f" = {energy_wh} Wh), beyond the {MAX_ENERGY_WH} Wh a reading may hold"
            )
        return Decoded(energy_wh, scale, value_words, modulus, meter_ts)


def image_from_reads(
    reads: list[tuple[int, int]], answers: list[tuple[int, ...]]
) -> dict[int, int]:
    """address → word for the words each read returned."""
    image: dict[int, int] = {}
    for (first, count), words in zip(reads, answers, strict=True):
        if len(words) != count:
            raise RegisterMapError(f"asked {count} registers at {first}, got {len(words)}")
        image.update(zip(range(first, first + count), words, strict=True))
    return image
