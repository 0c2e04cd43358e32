"""REST/CSV intake of DAS reports, as PTS automated reporting takes them (pure: no I/O).

A report lists cumulative register readings per system:
    JSON  {"systems": [{"systemId": "S-1", "meterValue": 1234.567, "meterDate":
           "2026-11-30T23:45:00-05:00", "unit": "kWh", "meterId": "M-1"}]}
    CSV   systemId,meterValue,meterDate[,unit][,meterId]   (header line first)
`meterValue` is the cumulative register in `unit`: "kWh" (default, as in PTS's interfaces) or
"Wh"; it must come to a whole number of Wh (kWh with at most 3 decimals). `meterDate` is an
ISO 8601 date-time; without an offset it is the system's local time. `meterId` is needed
only when the system has several meters in service.

Each accepted row becomes a Reading (source=das, source_id=provider) for the system's meter;
readings travel as one ReadingBatch per meter. A system unknown to the registry, or reported
by another provider, is refused as a whole with the reason; nothing of it is produced.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ingest.errors import IntakeError
from schemas.reading import Reading, ReadingBatch, Source

UNITS_WH = {"kwh": 1000, "wh": 1}
CSV_COLUMNS = ("systemId", "meterValue", "meterDate")
OPTIONAL_COLUMNS = ("unit", "meterId")
MAX_ROWS = 100_000
BATCH_READINGS = 10_000


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One row as sent (values not yet checked)."""

    index: int
    system_id: str
    meter_value: object
    meter_date: object
    unit: object = "kWh"
    meter_id: object = None


@dataclass(frozen=True, slots=True)
class SystemTarget:
    """What the registry says about a reported system."""

    system_id: str
    das_provider_id: str | None
    timezone: str
    meter_ids: tuple[str, ...]  # meters in service


@dataclass(slots=True)
class SystemResult:
    """The answer for one system, in the legacy interface's terms."""

    system_id: str
    accepted: int = 0
    refused: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.refused == 0 and self.accepted > 0

    def as_json(self, records_inserted: int) -> dict[str, object]:
        return {
            "systemId": self.system_id,
            "success": self.success and records_inserted == self.accepted,
            "recordsInserted": records_inserted,
            "messages": self.messages,
        }


@dataclass(frozen=True, slots=True)
class ReportPlan:
    """Per-system results and the batches to produce (one or more per meter)."""

    results: dict[str, SystemResult]
    batches: list[tuple[str, ReadingBatch]]  # (system_id, batch)


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def parse_json_report(body: bytes) -> list[ReportRow]:
    """Rows of a JSON report; IntakeError if the body is not that shape at all."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntakeError(f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("systems"), list):
        raise IntakeError('expected {"systems": [{"systemId", "meterValue", "meterDate"}, …]}')
    systems: list[object] = data["systems"]
    if len(systems) > MAX_ROWS:
        raise IntakeError(f"at most {MAX_ROWS} rows per report; split it")
    rows = []
    for index, item in enumerate(systems):
        if not isinstance(item, dict) or not _text(item.get("systemId")):
            raise IntakeError(f"systems[{index}] needs a systemId")
        rows.append(
            ReportRow(
                index=index,
                system_id=_text(item["systemId"]),
                meter_value=item.get("meterValue"),
                meter_date=item.get("meterDate"),
                unit=item.get("unit", "kWh"),
                meter_id=item.get("meterId"),
            )
        )
    return rows


def parse_csv_report(text: str) -> list[ReportRow]:
    """Rows of a CSV report (header line: systemId,meterValue,meterDate[,unit][,meterId])."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        raise IntakeError(
            f"CSV header must be {','.join(CSV_COLUMNS)}[,unit][,meterId]; "
            f"missing {missing}, unknown {unknown}"
        )
    rows = []
    for index, raw in enumerate(reader):
        record = {(k or "").strip(): v for k, v in raw.items()}
        if index >= MAX_ROWS:
            raise IntakeError(f"at most {MAX_ROWS} rows per report; split it")
        if not _text(record.get("systemId")):
            raise IntakeError(f"line {index + 2} needs a systemId")
        rows.append(
            ReportRow(
                index=index,
                system_id=_text(record["systemId"]),
                meter_value=_text(record.get("meterValue")),
                meter_date=_text(record.get("meterDate")),
                unit=_text(record.get("unit")) or "kWh",
                meter_id=_text(record.get("meterId")) or None,
            )
        )
    return rows


def energy_wh(value: object, unit: object) -> int:
    """The register in whole Wh; ValueError says what is wrong."""
    factor = UNITS_WH.get(_text(unit).lower())
    if factor is None:
        raise ValueError(f"unit {unit!r} is not kWh or Wh")
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError("meterValue is missing")
    try:
        amount = Decimal(str(value)) * factor
    except InvalidOperation as exc:
        raise ValueError(f"meterValue {value!r} is not a number") from exc
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise ValueError(f"meterValue {value} {unit} is not a whole number of Wh")
    if amount < 0:
        raise ValueError(f"meterValue {value} is negative; send the cumulative register")
    return int(amount)


def reading_time(value: object, timezone: str) -> datetime:
    """meterDate as an aware UTC datetime (no offset: the system's local time)."""
    text = _text(value)
    if not text:
        raise ValueError("meterDate is missing")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"meterDate {text!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    return parsed.astimezone(UTC)


def _meter_for(row: ReportRow, target: SystemTarget) -> str:
    wanted = _text(row.meter_id)
    if wanted:
        if wanted not in target.meter_ids:
            raise ValueError(f"meter {wanted!r} is not in service on system {target.system_id}")
        return wanted
    if len(target.meter_ids) == 1:
        return target.meter_ids[0]
    if not target.meter_ids:
        raise ValueError(f"system {target.system_id} has no meter in service")
    raise ValueError(
        f"system {target.system_id} has {len(target.meter_ids)} meters in service; "
        f"give meterId (one of {', '.join(target.meter_ids)})"
    )


def _refusal(provider_id: str, system_id: str, target: SystemTarget | None) -> str | None:
    if target is None:
        return f"system {system_id} is not registered; check the systemId"
    if target.das_provider_id != provider_id:
        return (
            f"system {system_id} is not reported by provider {provider_id}; "
            f"only its DAS provider of record may report it"
        )
    return None


def plan_report(
    provider_id: str,
    rows: Sequence[ReportRow],
    targets: Mapping[str, SystemTarget],
    received_at: datetime,
) -> ReportPlan:
    """Check every row against the registry; group accepted readings into batches per meter."""
    results: dict[str, SystemResult] = {}
    by_meter: dict[str, tuple[str, list[Reading]]] = {}
    seq_base = int(received_at.timestamp() * 1_000_000)
    for row in rows:
        result = results.setdefault(row.system_id, SystemResult(row.system_id))
        target = targets.get(row.system_id)
        refusal = _refusal(provider_id, row.system_id, target)
        if refusal is not None or target is None:
            result.refused += 1
            if refusal and refusal not in result.messages:
                result.messages.append(refusal)
            continue
        try:
            meter_id = _meter_for(row, target)
            reading = Reading(
                meter_id=meter_id,
                ts=reading_time(row.meter_date, target.timezone),
                energy_wh=energy_wh(row.meter_value, row.unit),
                source=Source.DAS,
                source_id=provider_id,
                seq=seq_base + row.index,
                received_at=received_at,
            )
        except ValueError as exc:
            result.refused += 1
            detail = (
                "; ".join(str(e["msg"]) for e in exc.errors())
                if isinstance(exc, ValidationError)
                else str(exc)
            )
            result.messages.append(f"row {row.index + 1}: {detail}")
            continue
        result.accepted += 1
        by_meter.setdefault(meter_id, (row.system_id, []))[1].append(reading)
    batches: list[tuple[str, ReadingBatch]] = []
    for system_id, readings in by_meter.values():
        readings.sort(key=lambda r: r.ts)
        for start in range(0, len(readings), BATCH_READINGS):
            batch = ReadingBatch(
                batch_id=f"das-{provider_id}-{uuid.uuid4().hex}",
                source=Source.DAS,
                source_id=provider_id,
                sent_at=received_at,
                readings=tuple(readings[start : start + BATCH_READINGS]),
            )
            batches.append((system_id, batch))
    return ReportPlan(results, batches)
