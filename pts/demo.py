"""`pts demo`: the whole system on one machine with nothing else installed.

A private PostgreSQL from the project's own code, simulated meters over real Modbus TCP on
loopback, the gateway's poller, the in-process stream engine, storage, month close, SRECs and
the GIS export, for one simulated month in accelerated (stepped) time. The demo checks its
month as certified (what month close counted per meter, the energy SRECs are minted from)
against the simulator's ground truth and fails when they differ.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from certification.roles import Account, Role
from certification.workflows.check_provenance import check_provenance
from certification.workflows.check_provenance import render as render_provenance
from certification.workflows.close_month import CloseReport, close_month
from certification.workflows.export_quarter import draft_export
from gateways.clock import SteppedClock
from gateways.meters import MeterConfig
from gateways.poller import MeterPoller
from gateways.sample import MeterSample, reading_from_sample
from gateways.signing import Ed25519Signer
from gateways.simulator.fleet import MeterFleet, make_fleet
from gateways.simulator.meter import ACC32, Faults
from pts.demo_report import DemoResult, render_chart, render_summary
from pts.demo_truth import check_totals
from schemas import (
    AccuracyClass,
    DasProvider,
    Meter,
    Program,
    Reading,
    ReadingBatch,
    ReportingMethod,
    Source,
    System,
)
from schemas.envelope import encode_batch, reading_hash, sign_batch
from schemas.signing_keys import SigningKey
from storage import provenance_store, registry_store
from storage.embedded import EmbeddedPostgres, find_bindir
from storage.migrate import migrate
from stream.calendar import month_bounds
from stream.inprocess import InProcessEngine

NY = ZoneInfo("America/New_York")
GATEWAY = "demo-gw"
ADMIN = Account("pts-admin", Role.ADMIN)


@dataclass
class DemoOptions:
    meters: int = 100
    month: str = "2026-10"
    seed: int = 1
    faults: bool = False
    interval_min: int = 60
    folder: Path = Path(".local/demo")
    pg_port: int = 15532
    inject_error_wh: int = 0  # add to one stored reading before the check (to see it fail)


def demo_faults(month_start: datetime) -> dict[int, Faults]:
    """Known faults for `--faults`: an outage, a stuck register, a reset at night, a dead meter."""
    day = timedelta(days=1)
    return {
        1: Faults(offline=((month_start + 3 * day, month_start + 5 * day),)),
        2: Faults(stuck=(month_start + 10 * day, month_start + 14 * day)),
        3: Faults(reset_at=month_start + 15 * day + timedelta(hours=6)),  # 02:00 local: dark
        4: Faults(exception_code=4),
    }


def registry_records(
    fleet: MeterFleet, gateway_id: str = GATEWAY, *, signed: bool = True
) -> list[Any]:
    """The fleet's systems and meters, reported by `gateway_id` (the stream accepts a
    gateway's readings only for systems whose reporting party of record it is); `signed`:
    the meters are registered as signed (the demo gateway signs; the stream then refuses
    unsigned batches of them)."""
    records: list[Any] = [
        DasProvider(provider_id=gateway_id, name="PTS demo gateway", approved=True)
    ]
    for index, meter in enumerate(fleet.meters):
        kw = Decimal(meter.profile.capacity_w) / 1000
        system_id = meter.meter_id.replace("SIM", "SYS")
        records.append(
            System(
                system_id=system_id,
                owner_id=f"owner-{index:04d}",
                capacity_kw_dc=kw,
                program=Program.SREC_II,
                srec_factor=Decimal("0.8") if kw <= 25 else Decimal("1.0"),
                gis_unit_id=f"NON{10_000 + index}",
                rec_terms_accepted=index % 10 != 9,
                reporting_method=ReportingMethod.AUTOMATIC,
                das_provider_id=gateway_id,
            )
        )
        records.append(
            Meter(
                meter_id=meter.meter_id,
                system_id=system_id,
                serial=f"SN{index:06d}",
                model="PTS-SIM-203" if meter.kind == "sunspec" else "PTS-SIM-YAML",
                accuracy_class=AccuracyClass.PCT_0_5,
                installed_on=date(2024, 1, 1),
                register_modulus_wh=ACC32,
                signed=signed,
            )
        )
    return records


def meter_configs(fleet: MeterFleet) -> list[MeterConfig]:
    return [
        MeterConfig(
            meter_id=m.meter_id,
            host=fleet.address_of(m)[0],
            port=fleet.address_of(m)[1],
            unit_id=m.unit_id,
            map="sunspec" if m.kind == "sunspec" else "pts-sim-uint32-le",
        )
        for m in fleet.meters
    ]


def start_database(options: DemoOptions) -> str:
    options.folder.mkdir(parents=True, exist_ok=True)
    options.folder.chmod(0o755)
    pg = EmbeddedPostgres(options.folder.resolve() / "pg", options.pg_port, find_bindir())
    pg.start()
    name = "pts_demo"
    with psycopg.connect(pg.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = f"postgresql://pts@127.0.0.1:{options.pg_port}/{name}"
    migrate(url)
    return url


def stop_database(options: DemoOptions) -> None:
    pg = EmbeddedPostgres(options.folder.resolve() / "pg", options.pg_port, find_bindir())
    pg.stop()


def clean(options: DemoOptions) -> None:
    """Stop the demo's PostgreSQL and remove everything the demo created."""
    if (options.folder / "pg").exists():
        stop_database(options)
    shutil.rmtree(options.folder, ignore_errors=True)


def _batch(meter_readings: list[Reading], signer: Ed25519Signer) -> ReadingBatch:
    batch = ReadingBatch(
        schema_version=2,
        batch_id=uuid.uuid4().hex,
        source=Source.GATEWAY,
        source_id=GATEWAY,
        sent_at=datetime.now(UTC),
        readings=tuple(meter_readings),
    )
    return sign_batch(batch, signer)


def gateway_key(start: datetime) -> tuple[Ed25519Signer, SigningKey]:
    """The demo gateway's key pair, and the registry record of its public key."""
    signer = Ed25519Signer.of(Ed25519PrivateKey.generate())
    record = SigningKey(
        signer_id=GATEWAY,
        key_id=signer.key_id,
        public_key=signer.public_key_b64,
        valid_from=start - timedelta(days=1),
    )
    return signer, record


async def run_month(
    options: DemoOptions,
    url: str,
    progress: Any = None,
) -> tuple[MeterFleet, int, int]:
    """Poll the simulated fleet through the month and stream every reading into storage."""
    start, end = month_bounds(options.month, NY)
    clock = SteppedClock(start)
    fleet = make_fleet(
        clock, options.meters, start - timedelta(days=1), seed=options.seed,
        faults=demo_faults(start) if options.faults else None,
    )  # fmt: skip
    if options.faults and options.meters > 5:
        fleet.meters[5].start_register_wh = ACC32 - 1_000_000  # rolls over early in the month
    await fleet.start()
    signer, key = gateway_key(start)
    with psycopg.connect(url) as conn:
        registry_store.upsert(conn, registry_records(fleet))
        provenance_store.add_key(conn, key)
    poller = MeterPoller(meter_configs(fleet), clock, timeout=0.05)
    engine = await InProcessEngine.connect(url, label="demo", clock=clock.now)
    step = timedelta(minutes=options.interval_min)
    ticks = int((end - start) / step) + 1
    pending: dict[str, list[Reading]] = defaultdict(list)
    seq = readings = failures = 0
    heads: dict[str, str] = {}  # each meter's hash chain, in sequence order
    try:
        for index in range(ticks):
            tick = start + index * step
            clock.set(tick)
            for result in await poller.poll_all(tick):
                if not isinstance(result, MeterSample):
                    failures += 1
                    continue
                seq += 1
                reading = reading_from_sample(
                    result, GATEWAY, seq, prev_hash=heads.get(result.meter_id)
                )
                heads[result.meter_id] = reading_hash(reading).hex()
                pending[result.meter_id].append(reading)
            last = index == ticks - 1
            if last or (tick.astimezone(NY).hour == 0 and index):
                for meter_readings in pending.values():  # as bytes: the wire's one codec
                    await engine.submit(encode_batch(_batch(meter_readings, signer)))
                    readings += len(meter_readings)
                pending.clear()
            if progress is not None:
                progress.update(1)
    finally:
        await engine.close()
        await poller.close()
        await fleet.stop()
    return fleet, readings, failures


def ticks_in(options: DemoOptions) -> int:
    start, end = month_bounds(options.month, NY)
    return int((end - start) / timedelta(minutes=options.interval_min)) + 1


def daily_by_system(url: str, month: str) -> dict[str, dict[date, int]]:
    first = date.fromisoformat(f"{month}-01")
    following = (first + timedelta(days=32)).replace(day=1)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT system_id, day, energy_wh FROM analyst_system_daily "
            "WHERE day >= %s AND day < %s ORDER BY system_id, day",
            (first, following),
        ).fetchall()
    out: dict[str, dict[date, int]] = defaultdict(dict)
    for system_id, day, energy in rows:
        out[system_id][day] = int(energy)
    return dict(out)


def inject_error(url: str, month: str, wh: int) -> None:
    """Tamper with one stored reading, the one closing the month of the first meter, to show
    that the check can fail."""
    _, end = month_bounds(month, NY)
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE readings SET energy_wh = energy_wh + %(wh)s WHERE (meter_id, ts) = "
            "(SELECT meter_id, min(ts) FROM readings WHERE ts >= %(end)s AND meter_id = "
            "(SELECT min(meter_id) FROM readings) GROUP BY meter_id)",
            {"wh": wh, "end": end},
        )


def certified_totals(report: CloseReport) -> dict[str, int]:
    """Per meter, the month's energy as month close counted it (estimates left out)."""
    return {m.meter_id: m.energy_wh for s in report.systems for m in s.meters if not m.estimated}


def quarter_of(month: str) -> str:
    year, m = month.split("-")
    return f"{year}Q{(int(m) - 1) // 3 + 1}"


def run_demo(options: DemoOptions, progress: Any = None) -> DemoResult:
    """Everything `pts demo` does, returning what the summary prints."""
    url = start_database(options)
    fleet, readings, failures = asyncio.run(run_month(options, url, progress))
    start, end = month_bounds(options.month, NY)
    truth = {m.meter_id: m.truth_wh(start, end) for m in fleet.meters}
    if options.inject_error_wh:
        inject_error(url, options.month, options.inject_error_wh)
    now = end + timedelta(days=6)
    with psycopg.connect(url) as conn:
        report = close_month(conn, options.month, ADMIN, now)
        export = draft_export(conn, quarter_of(options.month), ADMIN)
        provenance = check_provenance(conn, provenance_system(report), options.month, now)
    checks = check_totals(truth, certified_totals(report))
    out = options.folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    # the quarter's upload is due one quarter behind; the demo writes the draft so far
    export_path = out / f"gis-{quarter_of(options.month)}-draft.csv"
    export_path.write_text(export)
    daily = daily_by_system(url, options.month)
    chart_path = render_chart(daily, out / f"production-{options.month}.png", options.month)
    result = DemoResult(url, report, checks, export_path.resolve(), chart_path.resolve(),
                        (out / "summary.txt").resolve(), readings, failures, daily)  # fmt: skip
    # the summary ends with the provenance check of one system's certificates
    result.report_path.write_text(render_summary(result) + "\n\n" + render_provenance(provenance))
    return result


def provenance_system(report: CloseReport) -> str:
    """The system whose certificates the demo traces: the first that minted any."""
    minted = [s for s in report.systems if s.minted > 0] or report.systems
    return minted[0].system.system_id
