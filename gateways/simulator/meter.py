"""A simulated revenue meter: its register at any instant, its faults, and its truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from gateways.register_map import encode_value
from gateways.simulator.solar import SolarProfile

ACC32 = 2**32
SUNSPEC_BASE = 40000
MODEL_1_LEN = 66
MODEL_203_LEN = 105
YAML_ENERGY_ADDRESS = 0x0100  # uint32 Wh, little word order, on the "yaml" meters


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults a simulated meter shows; windows are [start, end) instants (UTC)."""

    offline: tuple[tuple[datetime, datetime], ...] = ()
    stuck: tuple[datetime, datetime] | None = None  # the register stops counting
    reset_at: datetime | None = None  # the register goes back to zero (do it at night)
    exception_code: int | None = None  # answers every read with this Modbus exception


@dataclass(slots=True)
class SimulatedMeter:
    meter_id: str
    unit_id: int
    profile: SolarProfile
    start_register_wh: int = 0
    kind: Literal["sunspec", "yaml"] = "sunspec"
    faults: Faults = field(default_factory=Faults)
    served: list[tuple[datetime, int]] = field(default_factory=list)
    _static: dict[int, int] = field(default_factory=dict)

    def registered_wh(self, instant: datetime) -> int:
        """Energy the meter has counted since the origin (no wrap, no reset): the truth."""
        produced = self.profile.cumulative_wh(instant)
        stuck = self.faults.stuck
        if stuck is not None and instant > stuck[0]:
            lost_until = min(instant, stuck[1])
            produced -= self.profile.cumulative_wh(lost_until) - self.profile.cumulative_wh(
                stuck[0]
            )
        return produced

    def register_value(self, instant: datetime) -> int:
        """What the energy register shows (Wh), with wrap at 2^32 and any reset."""
        counted = self.registered_wh(instant)
        if self.faults.reset_at is not None and instant >= self.faults.reset_at:
            return (counted - self.registered_wh(self.faults.reset_at)) % ACC32
        return (self.start_register_wh + counted) % ACC32

    @property
    def energy_address(self) -> int:
        if self.kind == "yaml":
            return YAML_ENERGY_ADDRESS
        return SUNSPEC_BASE + 2 + 2 + MODEL_1_LEN + 2 + 36

    def truth_wh(self, start: datetime, end: datetime) -> int:
        """Energy the meter registered between two instants."""
        return self.registered_wh(end) - self.registered_wh(start)

    def offline_at(self, instant: datetime) -> bool:
        return any(a <= instant < b for a, b in self.faults.offline)

    def words(self, instant: datetime, function: int, address: int, count: int) -> list[int] | int:
        """Register words for a read, or a Modbus exception code."""
        if self.faults.exception_code is not None:
            return self.faults.exception_code
        image = self._image(instant) if function == 3 else {}
        out = []
        for a in range(address, address + count):
            if a not in image:
                return 2  # illegal data address
            out.append(image[a])
        return out

    def _image(self, instant: datetime) -> dict[int, int]:
        value = self.register_value(instant)
        if self.kind == "yaml":
            low, high = encode_value(value, "uint32", word_order="little")
            return {YAML_ENERGY_ADDRESS: low, YAML_ENERGY_ADDRESS + 1: high}
        image = self._sunspec_static()
        high, low = encode_value(value, "uint32")
        data = SUNSPEC_BASE + 2 + 2 + MODEL_1_LEN + 2
        image[data + 36], image[data + 37] = high, low  # TotWhExp
        return image

    def _sunspec_static(self) -> dict[int, int]:
        """Marker, common model 1, meter model 203 (TotWh_SF = 0: Wh), end marker."""
        if self._static:
            return self._static
        image: dict[int, int] = {SUNSPEC_BASE: 0x5375, SUNSPEC_BASE + 1: 0x6E53}
        common = SUNSPEC_BASE + 2
        image[common], image[common + 1] = 1, MODEL_1_LEN
        name = f"PTS-SIM {self.meter_id}".encode()[:32].ljust(32, b"\0")
        for i in range(MODEL_1_LEN):
            image[common + 2 + i] = 0
        for i in range(16):  # Mn: manufacturer
            image[common + 2 + i] = int.from_bytes(name[2 * i : 2 * i + 2], "big")
        meter = common + 2 + MODEL_1_LEN
        image[meter], image[meter + 1] = 203, MODEL_203_LEN
        for i in range(MODEL_203_LEN):
            image[meter + 2 + i] = 0
        end = meter + 2 + MODEL_203_LEN
        image[end], image[end + 1] = 0xFFFF, 0
        self._static.update(image)
        return self._static
