"""A simulated revenue meter: its register at any instant, its faults, and its truth.

The register is an exact integer function of time (gateways/simulator/solar.py), so what the
meter served and what it truly registered between two instants are known to the Wh.

Register images:
- "sunspec": 'SunS' at 40000, common model 1 (Mn, Md, SN), meter model 203 with TotWhExp
  (acc32, Wh, TotWh_SF = 0) and TotWhImp = 0, end marker.
- "yaml": delivered Wh as uint32 at 256–257, least significant word first (map
  gateways/maps/pts-sim-uint32-le.yaml), and the meter clock as uint32 seconds since the UTC
  epoch at 258–259, most significant word first (map pts-sim-uint32-le-clock.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from gateways.register_map import encode_value
from gateways.simulator.solar import SolarProfile

ACC32 = 2**32
SUNSPEC_BASE = 40000
MODEL_1_LEN = 66
MODEL_203_LEN = 105
COMMON_DATA = SUNSPEC_BASE + 4  # first data word of model 1
METER_MODEL = COMMON_DATA + MODEL_1_LEN  # id word of model 203
METER_DATA = METER_MODEL + 2
SUNSPEC_ENERGY_ADDRESS = METER_DATA + 36  # TotWhExp
YAML_ENERGY_ADDRESS = 0x0100  # uint32 Wh, little word order, on the "yaml" meters
YAML_CLOCK_ADDRESS = 0x0102  # uint32 epoch seconds, big word order

Window = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults a simulated meter shows; windows are [start, end) instants (UTC)."""

    offline: tuple[Window, ...] = ()  # the meter does not answer at all
    stuck: Window | None = None  # the register stops counting (that energy is lost)
    reset_at: datetime | None = None  # the register goes back to zero (do it at night)
    exception_code: int | None = None  # answers reads with this Modbus exception …
    exception_window: Window | None = None  # … during this window only (None: always)
    replaced_at: datetime | None = None  # a new meter (new serial) is installed …
    replacement_start_wh: int = 0  # … whose register starts here
    replacement_serial: str | None = None
    garbage_window: Window | None = None  # energy reads answered with a malformed frame
    clock_offset_s: float = 0.0  # the meter clock is this far ahead at the origin …
    clock_drift_s_per_day: float = 0.0  # … and gains this much a day


@dataclass(slots=True)
class SimulatedMeter:
    meter_id: str
    unit_id: int
    profile: SolarProfile
    start_register_wh: int = 0
    kind: Literal["sunspec", "yaml"] = "sunspec"
    faults: Faults = field(default_factory=Faults)
    served: list[tuple[datetime, int]] = field(default_factory=list)  # (meter ts, Wh served)
    _static: dict[int, int] = field(default_factory=dict)
    _static_serial: str = ""

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
        """What the energy register shows (Wh), with wrap at 2^32, any reset or replacement."""
        counted = self.registered_wh(instant)
        replaced = self.faults.replaced_at
        if replaced is not None and instant >= replaced:
            since = counted - self.registered_wh(replaced)
            return (self.faults.replacement_start_wh + since) % ACC32
        if self.faults.reset_at is not None and instant >= self.faults.reset_at:
            return (counted - self.registered_wh(self.faults.reset_at)) % ACC32
        return (self.start_register_wh + counted) % ACC32

    def serial_at(self, instant: datetime) -> str:
        """The serial number of the meter installed at `instant`."""
        replaced = self.faults.replaced_at
        if replaced is not None and instant >= replaced:
            return self.faults.replacement_serial or f"{self.meter_id}-R"
        return self.meter_id

    def meter_time(self, instant: datetime) -> datetime:
        """The meter's own clock at `instant` (whole seconds when it drifts)."""
        faults = self.faults
        if not faults.clock_offset_s and not faults.clock_drift_s_per_day:
            return instant
        days = (instant - self.profile.origin).total_seconds() / 86400
        offset = faults.clock_offset_s + faults.clock_drift_s_per_day * days
        return (instant + timedelta(seconds=offset)).replace(microsecond=0)

    @property
    def energy_address(self) -> int:
        return YAML_ENERGY_ADDRESS if self.kind == "yaml" else SUNSPEC_ENERGY_ADDRESS

    def truth_wh(self, start: datetime, end: datetime) -> int:
        """Energy the meter (old and new, across a replacement) registered between two instants."""
        return self.registered_wh(end) - self.registered_wh(start)

    def offline_at(self, instant: datetime) -> bool:
        return any(a <= instant < b for a, b in self.faults.offline)

    def garbage_at(self, instant: datetime) -> bool:
        window = self.faults.garbage_window
        return window is not None and window[0] <= instant < window[1]

    def exception_at(self, instant: datetime) -> int | None:
        code, window = self.faults.exception_code, self.faults.exception_window
        if code is None or (window is not None and not window[0] <= instant < window[1]):
            return None
        return code

    def words(self, instant: datetime, function: int, address: int, count: int) -> list[int] | int:
        """Register words for a read, or a Modbus exception code."""
        code = self.exception_at(instant)
        if code is not None:
            return code
        if function != 3:
            return 2  # this meter keeps everything in holding registers
        image = self._image(instant)
        out = []
        for a in range(address, address + count):
            word = image.get(a)
            if word is None:
                return 2  # illegal data address
            out.append(word)
        return out

    def serves_energy(self, address: int, count: int) -> bool:
        return address <= self.energy_address < address + count

    def _image(self, instant: datetime) -> dict[int, int]:
        value = self.register_value(instant)
        if self.kind == "yaml":
            low, high = encode_value(value, "uint32", word_order="little")
            seconds = int(self.meter_time(instant).timestamp())
            clock_high, clock_low = encode_value(seconds, "uint32")
            return {YAML_ENERGY_ADDRESS: low, YAML_ENERGY_ADDRESS + 1: high,
                    YAML_CLOCK_ADDRESS: clock_high, YAML_CLOCK_ADDRESS + 1: clock_low}  # fmt: skip
        image = self._sunspec_static(self.serial_at(instant))
        high, low = encode_value(value, "uint32")
        image[SUNSPEC_ENERGY_ADDRESS], image[SUNSPEC_ENERGY_ADDRESS + 1] = high, low
        return image

    def _sunspec_static(self, serial: str) -> dict[int, int]:
        """Marker, common model 1, meter model 203 (TotWh_SF = 0: Wh), end marker."""
        if self._static and self._static_serial == serial:
            return self._static
        image: dict[int, int] = {SUNSPEC_BASE: 0x5375, SUNSPEC_BASE + 1: 0x6E53}
        image[SUNSPEC_BASE + 2], image[SUNSPEC_BASE + 3] = 1, MODEL_1_LEN
        for i in range(MODEL_1_LEN):
            image[COMMON_DATA + i] = 0
        _put_string(image, COMMON_DATA, 16, "PTS")  # Mn
        _put_string(image, COMMON_DATA + 16, 16, "PTS-SIM-203")  # Md
        _put_string(image, COMMON_DATA + 48, 16, serial)  # SN
        image[METER_MODEL], image[METER_MODEL + 1] = 203, MODEL_203_LEN
        for i in range(MODEL_203_LEN):
            image[METER_DATA + i] = 0
        end = METER_DATA + MODEL_203_LEN
        image[end], image[end + 1] = 0xFFFF, 0
        self._static, self._static_serial = image, serial
        return image


def _put_string(image: dict[int, int], address: int, words: int, text: str) -> None:
    raw = text.encode()[: 2 * words].ljust(2 * words, b"\0")
    for i in range(words):
        image[address + i] = int.from_bytes(raw[2 * i : 2 * i + 2], "big")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A UTC instant (for fault windows in tests and the demo)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
