"""SunSpec discovery, sans I/O: find the energy register of a SunSpec meter.

A SunSpec device serves the marker 'SunS' (0x5375 0x6E53) at 40000, 0 or 50000, then a chain
of models, each an id word and a length word followed by `length` data words, ended by id
0xFFFF. `SunSpecDiscovery` is a small state machine: it says which registers to read next,
is fed the words (or the Modbus exception) and ends with an `EnergyRegister` or an error.

Energy registers (offsets count from the model's first data word, after id and length):
- meter models 201–204: TotWhExp acc32 at 36, TotWhImp acc32 at 44, TotWh_SF sunssf at 52;
  acc32 wraps at 2^32 counts and serves 0 when not implemented.
- model 701 (DER AC measurement, length 153): TotWhInj uint64 at 17, TotWhAbs uint64 at 21,
  TotWh_SF at 118 (after the three 23-register phase groups at 39–107, ThrotPct 108 and
  ThrotSrc 109–110, then A_SF 111 … Tmp_SF 120). Value and scale factor are 102 registers
  apart: one request. uint64 serves 0xFFFF_FFFF_FFFF_FFFF when not implemented.
Delivered energy (what a solar meter exports: TotWhExp, TotWhInj) is read. The offsets are
recomputed from the SunSpec models' point lists (sunspec/models json/model_203.json and
model_701.json) in tests/unit/gateways/test_sunspec_offsets.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateways.errors import MeterExceptionError, RegisterMapError
from gateways.register_map import EnergyRegister

SUNSPEC_MARKER = (0x5375, 0x6E53)  # "SunS"
SUNSPEC_BASES = (40000, 0, 50000)
END_MODEL = 0xFFFF
METER_MODELS = (201, 202, 203, 204)
DER_AC_MODEL = 701
MAX_MODELS = 64  # a chain longer than this is a broken device

# meter models 201-204
TOT_WH_EXP = 36
TOT_WH_IMP = 44
TOT_WH_SF = 52
# model 701
DER_TOT_WH_INJ = 17
DER_TOT_WH_ABS = 21
DER_TOT_WH_SF = 118
DER_AC_LENGTH = 153
METER_LENGTHS = {201: 105, 202: 105, 203: 105, 204: 105}


def meter_register(model_id: int, model_address: int) -> EnergyRegister | None:
    """The delivered-energy register of a model whose id word is at `model_address`."""
    data = model_address + 2
    if model_id in METER_MODELS:
        return EnergyRegister(
            address=data + TOT_WH_EXP,
            kind="uint32",
            sf_address=data + TOT_WH_SF,
            modulus_counts=2**32,
            not_implemented=None,  # acc32 0 is also a fresh meter: accept it
        )
    if model_id == DER_AC_MODEL:
        return EnergyRegister(
            address=data + DER_TOT_WH_INJ,
            kind="uint64",
            sf_address=data + DER_TOT_WH_SF,
            modulus_counts=2**64,
            not_implemented=2**64 - 1,
        )
    return None


def sunspec_energy_register(model_start: int) -> EnergyRegister:
    """TotWhExp of a 201–204 meter model whose id word is at `model_start`."""
    register = meter_register(METER_MODELS[0], model_start)
    assert register is not None
    return register


@dataclass(frozen=True, slots=True)
class Found:
    """Where discovery found the energy register."""

    base: int
    model_id: int
    model_address: int
    register: EnergyRegister


class SunSpecDiscovery:
    """Walk the SunSpec chain: `next_read()`, then `feed(words)` or `refused(error)`.

    Reads: 4 words at each candidate base (marker and the first model header), then 2 words
    at each next model header. Ends when `found` is set; raises RegisterMapError otherwise.
    """

    def __init__(self, bases: Sequence[int] = SUNSPEC_BASES, where: str = "meter") -> None:
        self._bases = list(bases)
        self._where = where
        self._tried: list[str] = []
        self._base: int | None = None
        self._address: int | None = None  # next model header to read, once a marker is found
        self._models: list[int] = []
        self.found: Found | None = None

    def next_read(self) -> tuple[int, int] | None:
        """(address, count) to read next, or None when discovery has ended."""
        if self.found is not None:
            return None
        if self._address is not None:
            return self._address, 2
        if not self._bases:
            raise RegisterMapError(
                f"{self._where}: no SunSpec marker 'SunS' at {', '.join(self._tried)};"
                " give it a YAML map"
            )
        self._base = self._bases[0]
        return self._base, 4

    def refused(self, error: MeterExceptionError) -> None:
        """The last read was answered with a Modbus exception."""
        if self._address is None and error.code == 2:  # no registers at this base: next one
            self._tried.append(f"{self._bases.pop(0)} (exception 2, illegal data address)")
            return
        raise error

    def feed(self, words: tuple[int, ...]) -> None:
        """The words the last `next_read()` returned."""
        if self._address is None:
            assert self._base is not None
            if tuple(words[:2]) != SUNSPEC_MARKER:
                self._tried.append(f"{self._bases.pop(0)} (found {words[0]:#06x} {words[1]:#06x})")
                return
            self._address = self._base + 2
            words = words[2:]
        self._header(words[0], words[1])

    def _header(self, model_id: int, length: int) -> None:
        assert self._address is not None
        assert self._base is not None
        if model_id == END_MODEL:
            raise RegisterMapError(
                f"{self._where}: SunSpec chain at {self._base} (models {self._models}) has no"
                f" meter model 201-204 or DER model 701"
            )
        if len(self._models) >= MAX_MODELS:
            raise RegisterMapError(f"{self._where}: SunSpec chain longer than {MAX_MODELS} models")
        self._models.append(model_id)
        register = meter_register(model_id, self._address)
        if register is not None:
            self.found = Found(self._base, model_id, self._address, register)
            return
        self._address += 2 + length
        if self._address > 65535:
            raise RegisterMapError(f"{self._where}: SunSpec chain runs past register 65535")
