"""What one poll of one meter gives: a register sample, or why there is none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateways.errors import GatewayError
from schemas.reading import QualityFlag, Reading, Source


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One reading of a meter's cumulative energy register, exactly as the meter served it.

    meter_id: registry id of the meter (from the gateway configuration).
    ts: UTC; the meter's clock when its map has one, else the gateway's aligned poll instant.
    gateway_ts: UTC; the gateway clock when the answer came.
    energy_wh: the cumulative register in Wh (≥ 0; wraps at register_modulus_wh).
    unit_id: the Modbus unit id polled.
    scale_factor: the power of ten applied (SunSpec TotWh_SF, a map's scale-factor register or
        its fixed scale).
    raw_words: the value's register words as read, before any scaling.
    register_modulus_wh: Wh at which the register rolls over to 0, None if it never does.
    flags: quality flags, e.g. CLOCK_SKEW when the meter clock is off by more than the limit.
    """

    meter_id: str
    ts: datetime
    gateway_ts: datetime
    energy_wh: int
    unit_id: int
    scale_factor: int | None
    raw_words: tuple[int, ...]
    register_modulus_wh: int | None
    flags: frozenset[QualityFlag] = frozenset()


@dataclass(frozen=True, slots=True)
class MeterFailure:
    """A poll that gave no sample: `reason` says what happened, `error` is the gateway error."""

    meter_id: str
    ts: datetime  # the aligned poll instant
    reason: str
    error: GatewayError


PollResult = MeterSample | MeterFailure


def reading_from_sample(sample: MeterSample, source_id: str, seq: int, **extra: Any) -> Reading:
    """The reading a gateway sends for `sample`: source gateway `source_id`, sequence number
    `seq`, the gateway's receive time and the meter's raw provenance. `extra` sets further
    Reading fields (e.g. the spool's `prev_hash`)."""
    return Reading(
        meter_id=sample.meter_id,
        ts=sample.ts,
        energy_wh=sample.energy_wh,
        source=Source.GATEWAY,
        source_id=source_id,
        seq=seq,
        received_at=sample.gateway_ts,
        unit_id=sample.unit_id,
        scale_factor=sample.scale_factor,
        raw_words=sample.raw_words,
        register_modulus_wh=sample.register_modulus_wh,
        flags=sample.flags,
        **extra,
    )
