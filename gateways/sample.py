"""What one poll of one meter gives: a register sample, or why there is none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateways.errors import GatewayError
from schemas.reading import QualityFlag


@dataclass(frozen=True, slots=True)
class MeterSample:
    meter_id: str
    ts: datetime  # the aligned poll instant (meter clock when the meter has one), UTC
    gateway_ts: datetime  # gateway clock when the answer came, UTC
    energy_wh: int
    unit_id: int
    scale_factor: int | None
    raw_words: tuple[int, ...]
    register_modulus_wh: int | None
    flags: frozenset[QualityFlag] = frozenset()


@dataclass(frozen=True, slots=True)
class MeterFailure:
    meter_id: str
    ts: datetime
    reason: str
    error: GatewayError


PollResult = MeterSample | MeterFailure
