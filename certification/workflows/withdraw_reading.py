"""Withdraw a manual reading (and optionally put the right value in its place): load the
reading in force and its system, decide with certification.withdrawals (a correction's value
also passes certification.manual_reports.accept, against the reading in force before it),
record the withdrawal through storage.withdrawals and bring the rollups back in line with
the readings in force, in one transaction.

Rollups after a withdrawal: the meter is locked as every writer locks it, the derived
intervals ending between the readings in force around the instant are dropped and written
again from those readings (stream.rollup_refresh.plan_intervals), the days they touch are
rebuilt (a day no interval touches any more loses its row) and their months re-summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import structlog

from certification import withdrawals as rules
from certification.errors import Refused
from certification.manual_reports import ManualReport, accept
from certification.window import in_zone
from certification.workflows.accounts import account
from schemas.reading import Reading, Source
from storage import certification_store as store
from storage import directory_store, energy_store, reading_points, registry_store
from storage import withdrawals as wstore
from stream.directory import StaticDirectory, meter_infos
from stream.rollup_refresh import day_rows, plan_intervals, point_spans

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """What a withdrawal recorded."""

    withdrawal_id: int
    meter_id: str
    ts: datetime
    withdrawn_wh: int
    replacement_wh: int | None  # the corrected value at the same instant; None: withdrawn
    month: str
    timezone: str

    @property
    def local_ts(self) -> datetime:
        return self.ts.astimezone(ZoneInfo(self.timezone))


def withdraw_manual_reading(
    conn: psycopg.Connection[Any],
    account_id: str,
    meter_id: str,
    ts: datetime,
    reason: str,
    now: datetime,
    corrected_register_wh: int | None = None,
    manual_max_kw_dc: Decimal = Decimal(10),
) -> Withdrawn:
    """Withdraw the manual reading of `meter_id` at `ts` (naive: local time of the system);
    with `corrected_register_wh`, put that register value (as read, before the CT ratio) in
    its place: a correction."""
    with conn.transaction():
        who = account(conn, account_id)
        meter = registry_store.get_meter(conn, meter_id)
        if meter is None:
            raise Refused("unknown_meter", f"no meter {meter_id!r} is registered")
        system = registry_store.get_system(conn, meter.system_id)
        assert system is not None  # meters reference systems
        rules.require_withdrawer(who, system)
        ts = in_zone(ts, system.timezone)  # a local time as typed (the CLI's --at)
        energy_store.lock_meters_sync(conn, [meter_id])
        found = wstore.in_force(conn, meter_id, ts)
        if found is None:
            raise Refused(
                "unknown_reading",
                f"meter {meter_id} has no reading in force at {ts.isoformat()}",
            )
        stored = rules.StoredReading(
            found.meter_id, found.ts, found.energy_wh, found.source, found.source_id, found.event
        )
        closed = {r.month for r in store.closes_of(conn, system.system_id)}
        month = rules.decide(who, system, stored, reason, now, closed)
        replacement_wh = None
        if corrected_register_wh is not None:
            before, after = wstore.neighbours(conn, meter_id, ts)
            if after is not None:
                raise Refused(
                    "later_reading_exists",
                    f"meter {meter_id} has a later reading ({after.isoformat()}); withdraw "
                    "that one first, then correct this one",
                )
            last = None
            if before is not None:
                earlier = wstore.in_force(conn, meter_id, before)
                assert earlier is not None
                last = Reading(
                    meter_id=meter_id,
                    ts=earlier.ts,
                    energy_wh=earlier.energy_wh,
                    source=Source.MANUAL,
                    source_id="history",
                    seq=0,
                    received_at=earlier.ts,
                )
            provider = registry_store.get_provider(conn, system.das_provider_id or "")
            report = ManualReport(meter_id, corrected_register_wh, ts)
            replacement_wh = accept(
                who, system, meter, report, last, now, manual_max_kw_dc, provider
            ).energy_wh
            if replacement_wh == found.energy_wh:
                raise Refused(
                    "same_value",
                    f"the reading already holds {found.energy_wh} Wh; nothing to correct",
                )
        withdrawal_id = _record(conn, found, replacement_wh, month, reason.strip(), who, now)
        refresh_around(conn, meter_id, ts)
    log.info(
        "manual_reading_withdrawn",
        meter_id=meter_id,
        withdrawn_wh=found.energy_wh,
        replacement_wh=replacement_wh,
        by=who.account_id,
    )
    return Withdrawn(
        withdrawal_id, meter_id, ts, found.energy_wh, replacement_wh, month, system.timezone
    )


def _record(
    conn: psycopg.Connection[Any],
    found: wstore.InForce,
    replacement_wh: int | None,
    month: str,
    reason: str,
    who: Any,
    now: datetime,
) -> int:
    """Record through the SECURITY DEFINER function; a reading changed meanwhile is refused."""
    try:
        with conn.transaction():
            return wstore.record(
                conn,
                found.meter_id,
                found.ts,
                found.energy_wh,
                replacement_wh,
                month,
                reason,
                who.account_id,
                now,
            )
    except (psycopg.errors.SerializationFailure, psycopg.errors.NoDataFound) as exc:
        raise Refused(
            "reading_changed", f"the reading changed meanwhile ({exc.diag.message_primary})"
        ) from exc


def refresh_around(conn: psycopg.Connection[Any], meter_id: str, ts: datetime) -> None:
    """Rewrite the meter's rollups between the readings in force around `ts` (the module
    docstring says how); inside the caller's transaction, with the meter locked."""
    directory = StaticDirectory(meter_infos(directory_store.directory_rows_sync(conn, {meter_id})))
    if directory.get(meter_id) is None:
        return  # a meter without rollups
    before, after = wstore.neighbours(conn, meter_id, ts)
    spans = [(meter_id, ts, ts)]
    edges = {meter_id: (before, after)}
    wstore.delete_intervals(conn, meter_id, before, after)
    points = reading_points.points(conn, point_spans(spans, edges))
    plan = plan_intervals(directory, spans, edges, points)
    energy_store.upsert_intervals_sync(conn, plan.interval_rows)
    rows = day_rows(energy_store.day_parts_sync(conn, plan.wanted_days), plan.zones)
    rebuilt = {day for _, (day, *_) in rows}
    wstore.delete_days(conn, meter_id, [d for _, d, _, _ in plan.wanted_days if d not in rebuilt])
    energy_store.upsert_days_sync(conn, rows)
    energy_store.refresh_months_sync(
        conn, {(meter_id, d.replace(day=1)) for _, d, _, _ in plan.wanted_days}
    )
