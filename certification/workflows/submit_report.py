"""Take a manual monthly report: load the meter, its system and its last reading, decide with
certification.manual_reports, save the reading (and the replaced meter's closing reading)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import structlog

from certification.errors import Refused
from certification.manual_reports import (
    ManualReport,
    accept,
    closing_reading,
    filed_month,
    localized,
)
from certification.workflows.accounts import account
from schemas.reading import Reading, Source
from storage import certification_store as store
from storage import registry_store, withdrawals
from stream.rollup_refresh import write_with_rollups

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SubmittedReport:
    """What was stored for an accepted manual report."""

    reading: Reading
    closing: Reading | None  # the replaced meter's final reading, when one was given
    month: str  # the reporting month it is filed under
    timezone: str  # the system's

    @property
    def local_ts(self) -> datetime:
        """The reading time in the system's time zone."""
        return self.reading.ts.astimezone(ZoneInfo(self.timezone))


def submit_manual_report(
    conn: psycopg.Connection[Any],
    account_id: str,
    report: ManualReport,
    now: datetime,
    manual_max_kw_dc: Decimal,
) -> SubmittedReport:
    """Accept a manual monthly report and store it as a `manual` reading, filed under the
    reporting month whose window it was taken in."""
    with conn.transaction():
        who = account(conn, account_id)
        meter = registry_store.get_meter(conn, report.meter_id)
        if meter is None:
            raise Refused("unknown_meter", f"no meter {report.meter_id!r} is registered")
        system = registry_store.get_system(conn, meter.system_id)
        assert system is not None  # meters reference systems
        report = localized(report, system.timezone)
        provider = registry_store.get_provider(conn, system.das_provider_id or "")
        found = store.last_reading(conn, meter.meter_id)
        last = None
        if found is not None:
            last = Reading(
                meter_id=meter.meter_id,
                ts=found.ts,
                energy_wh=found.energy_wh,
                source=Source.MANUAL,
                source_id="history",
                seq=0,
                received_at=found.ts,
            )
        if withdrawals.withdrawn_at(conn, meter.meter_id, report.read_at):
            raise Refused(
                "instant_withdrawn",
                f"a reading of meter {meter.meter_id} at {report.read_at.isoformat()} was "
                "withdrawn and a meter keeps one reading per instant; give the time the "
                "register was read (another minute), or correct the reading instead",
            )
        seq = int(now.timestamp() * 1000)
        reading = accept(who, system, meter, report, last, now, manual_max_kw_dc, provider, seq)
        closing = closing_reading(who, meter, report, now, seq)
        write_with_rollups(conn, [reading] if closing is None else [closing, reading])
        month = filed_month(reading.ts, system.timezone)
        store.add_manual_report(
            conn,
            meter.meter_id,
            reading.ts,
            month,
            report.photo_ref,
            report.meter_replacement,
            who.account_id,
            now,
        )
    log.info("manual_report_accepted", meter_id=meter.meter_id, energy_wh=reading.energy_wh)
    return SubmittedReport(reading, closing, month, system.timezone)
