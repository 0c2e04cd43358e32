"""Validation stages: each is configured once and called per reading.

A stage returns None to let a reading through or raises RejectedError with its reason.
A pipeline is a list of stages; the Faust agent, the in-process engine and the tests share it.
Readings that pass are stored raw; anomalies that need neighbours (backwards registers,
implausible power) are not refused here but flagged when energy is derived, because raw data
is never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from schemas.reading import Reading, Source
from stream.directory import MeterDirectory
from stream.errors import ReasonCode, RejectedError


class Stage(Protocol):
    def __call__(self, reading: Reading) -> None: ...


class KnownMeter:
    """Refuse readings of meters that are not in the registry."""

    def __init__(self, directory: MeterDirectory) -> None:
        self._directory = directory

    def __call__(self, reading: Reading) -> None:
        if self._directory.get(reading.meter_id) is None:
            raise RejectedError(
                ReasonCode.UNKNOWN_METER,
                f"meter {reading.meter_id!r} is not registered; register it before reporting",
            )


class ProviderOwnsMeter:
    """A DAS provider may report only the meters registered to it."""

    def __init__(self, directory: MeterDirectory) -> None:
        self._directory = directory

    def __call__(self, reading: Reading) -> None:
        if reading.source is not Source.DAS:
            return
        info = self._directory.get(reading.meter_id)
        if info is not None and info.provider_id != reading.source_id:
            raise RejectedError(
                ReasonCode.PROVIDER_MISMATCH,
                f"provider {reading.source_id!r} reported meter {reading.meter_id!r}, which is "
                f"reported by {info.provider_id!r}",
            )


class NotInFuture:
    """Refuse readings stamped later than their receive time plus a clock tolerance."""

    def __init__(self, tolerance: timedelta = timedelta(minutes=15)) -> None:
        self._tolerance = tolerance

    def __call__(self, reading: Reading) -> None:
        if reading.ts > reading.received_at + self._tolerance:
            raise RejectedError(
                ReasonCode.FUTURE_TIMESTAMP,
                f"reading at {reading.ts.isoformat()} is later than its receive time "
                f"{reading.received_at.isoformat()} by more than {self._tolerance}",
            )


def default_pipeline(directory: MeterDirectory) -> list[Stage]:
    return [KnownMeter(directory), ProviderOwnsMeter(directory), NotInFuture()]


def run_pipeline(stages: Sequence[Stage], reading: Reading) -> None:
    """Run every stage; the first refusal wins."""
    for stage in stages:
        stage(reading)
