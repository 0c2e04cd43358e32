"""REST/CSV intake of DAS reports, as PTS automated reporting takes them (pure: no I/O).

A report lists cumulative register readings per system:
    JSON  {"systems": [{"systemId": "S-1", "meterValue": 1234.567, "meterDate":
           "2026-11-30T23:45:00-05:00", "unit": "kWh", "meterId": "M-1"}]}
    CSV   systemId,meterValue,meterDate[,unit][,meterId]   (header line first)
`meterValue` is the cumulative register in `unit`: "kWh" (default, as in PTS's interfaces) or
"Wh"; it must come to a whole number of Wh (kWh with at most 3 decimals). `meterDate` is an
ISO 8601 date-time; without an offset it is the system's local time. `meterId` is needed
only when the system has several meters in service. A meter swap is stated with `event`:
"closing" on the old meter's last read, "opening" on the new meter's first (JSON field or
optional CSV column; the reads keep the logical meter's meterId).

Each accepted row becomes a Reading (source=das, source_id=provider) for the system's meter;
readings travel in ReadingBatches of one meter, each small enough for one Kafka record
(`IntakeLimits.max_record_bytes`). A system unknown to the registry, or reported by another
provider, is refused as a whole with the reason; nothing of it is produced.

Bounds, checked before any registry or broker work: nesting (the JSON parser's recursion
limit), a systemId of at most 128 characters without control characters (a NUL would reach
the database), a meterValue whose register fits PostgreSQL's bigint (refused at once by its
exponent, so `1e999999` costs nothing), a meterDate inside the plausible window
[`earliest`, receipt + `future`]. A refused row carries a reason code (`RowRefusal.code`):
value_out_of_range, timestamp_out_of_range, future_timestamp, schema_invalid, unknown_meter,
unknown_system, provider_mismatch.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ingest.errors import IntakeError
from schemas.reading import Reading, ReadingBatch, ReadingEvent, Source

UNITS_WH = {"kwh": 1000, "wh": 1}
CSV_COLUMNS = ("systemId", "meterValue", "meterDate")
OPTIONAL_COLUMNS = ("unit", "meterId", "event")
EVENTS = {e.value: e for e in ReadingEvent}
MAX_ROWS = 100_000
BATCH_READINGS = 10_000
BIGINT_MAX = 2**63 - 1  # the largest register PostgreSQL stores
MAX_ID_CHARS = 128
MAX_FIELD_CHARS = 1_000  # meterDate, unit, meterId: longer is not a value of theirs
_BATCH_OVERHEAD = 512  # envelope, key and headers of a record, beyond its readings


EARLIEST_READING = datetime(2000, 1, 1, tzinfo=UTC)  # PTS_STREAM_EARLIEST_READING
FUTURE_TOLERANCE = timedelta(minutes=15)  # PTS_STREAM_FUTURE_TOLERANCE_S
MAX_RECORD_BYTES = 900_000  # PTS_INGEST_MAX_RECORD_BYTES


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    """What a report may hold."""

    earliest: datetime = EARLIEST_READING
    future: timedelta = FUTURE_TOLERANCE
    max_record_bytes: int = MAX_RECORD_BYTES


class RowRefusal(ValueError):
    """A row that cannot become a reading, with a reason code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One row as sent (values not yet checked)."""

    index: int
    system_id: str
    meter_value: object
    meter_date: object
    unit: object = "kWh"
    meter_id: object = None
    event: object = None  # "closing" / "opening" on a meter swap


@dataclass(frozen=True, slots=True)
class SystemTarget:
    """What the registry says about a reported system."""

    system_id: str
    das_provider_id: str | None
    timezone: str
    meter_ids: tuple[str, ...]  # meters in service


@dataclass(slots=True)
class SystemResult:
    """The answer for one system, in the legacy interface's terms (and, for the dead letter,
    the refused rows with the first refusal's code)."""

    system_id: str
    accepted: int = 0
    refused: int = 0
    messages: list[str] = field(default_factory=list)
    refused_rows: list[ReportRow] = field(default_factory=list)
    code: str | None = None
    row_refusals: list[tuple[int, str, str]] = field(default_factory=list)  # index, code, why

    def refuse(self, row: ReportRow, code: str, message: str) -> None:
        """Count a refused row and keep its reason (the first code is the dead letter's)."""
        self.refused += 1
        self.refused_rows.append(row)
        self.code = self.code or code
        self.row_refusals.append((row.index, code, message))

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
    seq_base: int = 0  # a reading's seq is this + its row's index

    def row_index(self, reading: Reading) -> int:
        """The index of the row a planned reading came from."""
        return reading.seq - self.seq_base


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _system_id(value: object, where: str) -> str:
    """A system id as sent, refused (IntakeError) if it is not plain text of bounded size."""
    if isinstance(value, dict | list | bool):
        raise IntakeError(f"{where} must be a string")
    text = _text(value)
    if not text:
        raise IntakeError(f"{where} is missing")
    if len(text) > MAX_ID_CHARS:
        raise IntakeError(f"{where} has {len(text)} characters; at most {MAX_ID_CHARS}")
    bad = next((c for c in text if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise IntakeError(
            f"{where} contains a control character (U+{ord(bad):04X}); send the plain id"
        )
    return text


def parse_json_report(body: bytes) -> list[ReportRow]:
    """Rows of a JSON report; IntakeError if the body is not that shape at all. Numbers are
    kept exact (Decimal), however long; nesting beyond the parser's limit is refused."""
    try:
        data = json.loads(body, parse_float=Decimal, parse_int=Decimal)
    except RecursionError as exc:
        raise IntakeError("the JSON is nested too deeply; send the flat report shape") from exc
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
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
                system_id=_system_id(item["systemId"], f"systems[{index}].systemId"),
                meter_value=item.get("meterValue"),
                meter_date=item.get("meterDate"),
                unit=item.get("unit", "kWh"),
                meter_id=item.get("meterId"),
                event=item.get("event"),
            )
        )
    return rows


def parse_csv_report(text: str) -> list[ReportRow]:
    """Rows of a CSV report (header line: systemId,meterValue,meterDate[,unit][,meterId])."""
    try:
        return _csv_rows(text)
    except csv.Error as exc:
        raise IntakeError(f"the CSV cannot be read: {exc}") from exc


def _csv_rows(text: str) -> list[ReportRow]:
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
                system_id=_system_id(record["systemId"], f"line {index + 2} systemId"),
                meter_value=_text(record.get("meterValue")),
                meter_date=_text(record.get("meterDate")),
                unit=_text(record.get("unit")) or "kWh",
                meter_id=_text(record.get("meterId")) or None,
                event=_text(record.get("event")) or None,
            )
        )
    return rows


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"


def energy_wh(value: object, unit: object) -> int:
    """The register in whole Wh; RowRefusal (a ValueError) says what is wrong. A value whose
    exponent alone puts it beyond bigint is refused before any arithmetic."""
    unit_text = _text(unit)
    factor = UNITS_WH.get(unit_text.lower()) if len(unit_text) <= 8 else None
    if factor is None:
        raise RowRefusal("schema_invalid", f"unit {_short(unit)!r} is not kWh or Wh")
    if isinstance(value, bool | dict | list) or value is None or value == "":
        raise RowRefusal("schema_invalid", "meterValue is missing")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise RowRefusal("schema_invalid", f"meterValue {_short(value)!r} is not a number") from exc
    if not number.is_finite():
        raise RowRefusal("schema_invalid", f"meterValue {_short(value)} is not a number")
    if number > 0 and number.adjusted() > 19:  # ≥ 1e20 before the unit: beyond any register
        raise RowRefusal(
            "value_out_of_range",
            f"meterValue {_short(value)} {unit_text} is above the largest register, "
            f"{BIGINT_MAX} Wh; check the unit and the scale",
        )
    amount = number * factor
    if amount != amount.to_integral_value():
        raise RowRefusal(
            "schema_invalid", f"meterValue {_short(value)} {unit_text} is not a whole number of Wh"
        )
    if amount < 0:
        raise RowRefusal(
            "schema_invalid",
            f"meterValue {_short(value)} is negative; send the cumulative register",
        )
    if amount > BIGINT_MAX:
        raise RowRefusal(
            "value_out_of_range",
            f"meterValue {_short(value)} {unit_text} is {amount:f} Wh, above the largest "
            f"register, {BIGINT_MAX} Wh; check the unit and the scale",
        )
    return int(amount)


def reading_time(
    value: object,
    timezone: str,
    earliest: datetime | None = None,
    latest: datetime | None = None,
) -> datetime:
    """meterDate as an aware UTC datetime (no offset: the system's local time), inside
    [earliest, latest] when given; RowRefusal otherwise."""
    text = _text(value)
    if not text:
        raise RowRefusal("schema_invalid", "meterDate is missing")
    if len(text) > 64:
        raise RowRefusal("schema_invalid", f"meterDate {_short(text)!r} is not a date-time")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise RowRefusal(
            "schema_invalid", f"meterDate {text!r} is not an ISO 8601 date-time"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    try:
        instant: datetime | None = parsed.astimezone(UTC)
    except OverflowError:  # within a day of year 1 or 9999: outside any window
        instant = None
    if (instant is None and parsed.year < 5000) or (
        instant is not None and earliest is not None and instant < earliest
    ):
        opens = earliest.date().isoformat() if earliest else "the plausible window"
        raise RowRefusal(
            "timestamp_out_of_range",
            f"meterDate {text} is before {opens}, where the plausible window opens; check the "
            "meter clock",
        )
    if instant is None or (latest is not None and instant > latest):
        limit = f" ({latest.isoformat()})" if latest else ""
        raise RowRefusal(
            "future_timestamp",
            f"meterDate {text} is later than the receipt time plus the clock tolerance"
            f"{limit}; check the meter clock",
        )
    return instant


def _event(value: object) -> ReadingEvent | None:
    """A swap event as sent (none: an ordinary reading); RowRefusal if it is not one."""
    text = _text(value)
    if not text:
        return None
    event = EVENTS.get(text.lower()) if len(text) <= 16 else None
    if event is None:
        raise RowRefusal(
            "schema_invalid",
            f"event {_short(text)!r} is not closing or opening; mark a meter swap with the old "
            "meter's closing read and the new meter's opening read",
        )
    return event


def _meter_for(row: ReportRow, target: SystemTarget) -> str:
    wanted = _text(row.meter_id)
    if wanted:
        if wanted not in target.meter_ids:
            raise RowRefusal(
                "unknown_meter",
                f"meter {_short(wanted)!r} is not in service on system {target.system_id}",
            )
        return wanted
    if len(target.meter_ids) == 1:
        return target.meter_ids[0]
    if not target.meter_ids:
        raise RowRefusal("unknown_meter", f"system {target.system_id} has no meter in service")
    raise RowRefusal(
        "unknown_meter",
        f"system {target.system_id} has {len(target.meter_ids)} meters in service; "
        f"give meterId (one of {', '.join(target.meter_ids)})",
    )


def _refusal(
    provider_id: str, system_id: str, target: SystemTarget | None
) -> tuple[str, str] | None:
    if target is None:
        return "unknown_system", f"system {system_id} is not registered; check the systemId"
    if target.das_provider_id != provider_id:
        return "provider_mismatch", (
            f"system {system_id} is not reported by provider {provider_id}; "
            f"only its DAS provider of record may report it"
        )
    return None


def plan_report(
    provider_id: str,
    rows: Sequence[ReportRow],
    targets: Mapping[str, SystemTarget],
    received_at: datetime,
    limits: IntakeLimits | None = None,
) -> ReportPlan:
    """Check every row against the bounds and the registry; group accepted readings into
    batches per meter, each small enough for one record."""
    limits = limits or IntakeLimits()
    latest = received_at + limits.future
    results: dict[str, SystemResult] = {}
    by_meter: dict[str, tuple[str, list[Reading]]] = {}
    seq_base = int(received_at.timestamp() * 1_000_000)
    for row in rows:
        result = results.setdefault(row.system_id, SystemResult(row.system_id))
        target = targets.get(row.system_id)
        refusal = _refusal(provider_id, row.system_id, target)
        if refusal is not None or target is None:
            code, message = refusal or ("unknown_system", "the system is not registered")
            result.refuse(row, code, message)
            if message not in result.messages:
                result.messages.append(message)
            continue
        try:
            meter_id = _meter_for(row, target)
            reading = Reading(
                meter_id=meter_id,
                ts=reading_time(row.meter_date, target.timezone, limits.earliest, latest),
                energy_wh=energy_wh(row.meter_value, row.unit),
                source=Source.DAS,
                source_id=provider_id,
                seq=seq_base + row.index,
                received_at=received_at,
                event=_event(row.event),
            )
        except ValueError as exc:
            detail = (
                "; ".join(str(e["msg"]) for e in exc.errors())
                if isinstance(exc, ValidationError)
                else str(exc)
            )
            code = exc.code if isinstance(exc, RowRefusal) else "schema_invalid"
            result.refuse(row, code, detail)
            result.messages.append(f"row {row.index + 1}: {detail}")
            continue
        result.accepted += 1
        by_meter.setdefault(meter_id, (row.system_id, []))[1].append(reading)
    batches: list[tuple[str, ReadingBatch]] = []
    budget = max(limits.max_record_bytes - _BATCH_OVERHEAD, 1)
    for system_id, readings in by_meter.values():
        readings.sort(key=lambda r: r.ts)
        for chunk in _chunks_within(readings, budget):
            batch = ReadingBatch(
                batch_id=f"das-{provider_id}-{uuid.uuid4().hex}",
                source=Source.DAS,
                source_id=provider_id,
                sent_at=received_at,
                readings=tuple(chunk),
            )
            batches.append((system_id, batch))
    return ReportPlan(results, batches, seq_base)


def _chunks_within(readings: list[Reading], budget: int) -> list[list[Reading]]:
    """Consecutive runs of readings whose JSON fits `budget` bytes (and BATCH_READINGS)."""
    chunks: list[list[Reading]] = [[]]
    size = 0
    for reading in readings:
        weight = len(reading.model_dump_json()) + 1
        if chunks[-1] and (size + weight > budget or len(chunks[-1]) >= BATCH_READINGS):
            chunks.append([])
            size = 0
        chunks[-1].append(reading)
        size += weight
    return chunks


def refused_rows_json(result: SystemResult) -> bytes:
    """The refused rows of a system as sent (for its dead letter)."""
    rows = []
    for row in result.refused_rows:
        item: dict[str, object] = {
            "row": row.index + 1,
            "meterValue": _text(row.meter_value),
            "meterDate": _text(row.meter_date),
        }
        if _text(row.unit) != "kWh":
            item["unit"] = _text(row.unit)
        if row.meter_id is not None:
            item["meterId"] = _text(row.meter_id)
        if row.event is not None:
            item["event"] = _text(row.event)
        rows.append(item)
    return json.dumps({"systemId": result.system_id, "rows": rows}).encode()
