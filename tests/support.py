"""Test support: a small registered fleet and its ground truth (not a test module)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from schemas import (
    AccuracyClass,
    DasProvider,
    Meter,
    Reading,
    ReadingBatch,
    ReadingEvent,
    ReportingMethod,
    Source,
    System,
)
from storage import registry_store
from storage.energy_store import monthly_totals

NY = ZoneInfo("America/New_York")

# March 2026 in New York, the month the stream tests run through: DST starts on Mar 8, so the
# local month is [MAR, APR) = [Mar 1 05:00Z, Apr 1 04:00Z); series run from START to END,
# a few hours either side.
START = datetime(2026, 2, 28, 5, tzinfo=UTC)
MAR = datetime(2026, 3, 1, 5, tzinfo=UTC)
APR = datetime(2026, 4, 1, 4, tzinfo=UTC)
END = datetime(2026, 4, 1, 8, tzinfo=UTC)


def register_fleet(
    conn: psycopg.Connection[Any], meter_ids: list[str], provider: str = "das-a"
) -> None:
    """One 50 kW system per meter, automatically reported by `provider`."""
    records: list[Any] = [DasProvider(provider_id=provider, name=provider, approved=True)]
    for meter_id in meter_ids:
        system_id = f"S-{meter_id}"
        records.append(
            System(
                system_id=system_id,
                owner_id=f"owner-{meter_id}",
                capacity_kw_dc=Decimal("50"),
                reporting_method=ReportingMethod.AUTOMATIC,
                das_provider_id=provider,
            )
        )
        records.append(
            Meter(
                meter_id=meter_id,
                system_id=system_id,
                serial=f"SN-{meter_id}",
                model="SIM-203",
                accuracy_class=AccuracyClass.PCT_0_5,
                installed_on=datetime(2020, 1, 1).date(),
                register_modulus_wh=2**32,
            )
        )
    registry_store.upsert(conn, records)


@dataclass
class MeterSeries:
    """A meter's readings with the energy truly produced in each interval."""

    meter_id: str
    readings: list[Reading]
    increments: list[int]  # increments[i] = energy between readings[i-1] and readings[i]

    def truth(self, start: datetime, end: datetime) -> int:
        """Energy registered in (start, end], both on the reading grid."""
        return sum(
            inc
            for reading, inc in zip(self.readings[1:], self.increments[1:], strict=True)
            if start < reading.ts <= end
        )


def solar_series(
    meter_id: str,
    start: datetime,
    end: datetime,
    step: timedelta = timedelta(minutes=15),
    seed: int = 0,
    first_register: int = 1_000_000,
    modulus: int | None = 2**32,
    swap_at: datetime | None = None,
    source_id: str = "das-a",
    source: Source = Source.DAS,
) -> MeterSeries:
    """Readings on a UTC grid with daytime production (random but seeded) and optional swap,
    from `source` (a DAS provider unless told: a gateway's, for the MQTT tests).

    With `swap_at`, the reading at that instant is the old meter's CLOSING read and the next
    one the new meter's OPENING read at register 50; nothing is produced across the swap.
    """
    rnd = random.Random(seed)
    readings: list[Reading] = []
    increments: list[int] = [0]
    register, ts, seq = first_register, start, 0
    event: ReadingEvent | None = None
    while ts <= end:
        if readings:
            hour = ts.astimezone(NY).hour
            inc = rnd.randint(0, 9_000) if 7 <= hour <= 17 else 0
            if event is ReadingEvent.CLOSING:
                register, inc, event = 50, 0, ReadingEvent.OPENING
            else:
                event = None
                register += inc
            if swap_at is not None and ts == swap_at:
                event = ReadingEvent.CLOSING
            increments.append(inc)
        stored = register % modulus if modulus else register
        readings.append(
            Reading(
                meter_id=meter_id,
                ts=ts,
                energy_wh=stored,
                source=source,
                source_id=source_id,
                seq=seq,
                received_at=ts,
                register_modulus_wh=modulus,
                event=event,
            )
        )
        ts += step
        seq += 1
    return MeterSeries(meter_id, readings, increments)


def batch_bytes(readings: list[Reading], source_id: str = "das-a") -> bytes:
    return (
        ReadingBatch(
            batch_id=uuid.uuid4().hex,
            source=Source.DAS,
            source_id=source_id,
            sent_at=datetime.now(UTC),
            readings=tuple(readings),
        )
        .model_dump_json()
        .encode()
    )


def hourly_batches(series: MeterSeries) -> list[list[Reading]]:
    """The series cut into one batch per hour (4 readings at 15 minutes)."""
    out: dict[datetime, list[Reading]] = {}
    for reading in series.readings:
        out.setdefault(reading.ts.replace(minute=0), []).append(reading)
    return list(out.values())


def daily_batches(
    series: MeterSeries, shuffle_within_hour: random.Random | None = None
) -> list[list[Reading]]:
    """The series cut into one batch per UTC day; optionally shuffled within each hour."""
    out: dict[datetime, list[Reading]] = {}
    for hour in hourly_batches(series):
        if shuffle_within_hour is not None:
            hour = hour[:]
            shuffle_within_hour.shuffle(hour)
        out.setdefault(hour[0].ts.replace(hour=0, minute=0), []).extend(hour)
    return list(out.values())


def assert_exact(db: str, series: list[MeterSeries]) -> None:
    """Every series' March and February totals in the database equal its truth to the Wh."""
    with psycopg.connect(db) as conn:
        totals = monthly_totals(conn)
    for s in series:
        assert totals[(s.meter_id, "2026-03")] == s.truth(MAR, APR), s.meter_id
        assert totals[(s.meter_id, "2026-02")] == s.truth(START, MAR), s.meter_id
