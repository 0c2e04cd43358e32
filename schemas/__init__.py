"""Contracts: pydantic models every package speaks. Imports no other PTS package; does no I/O."""

from schemas.reading import (
    SCHEMA_VERSION,
    QualityFlag,
    Reading,
    ReadingBatch,
    ReadingEvent,
    Source,
    content_hash,
)
from schemas.registry import (
    AccuracyClass,
    DasProvider,
    Meter,
    Program,
    ReportingMethod,
    System,
)
from schemas.rollup import MonthlyMeterEnergy

__all__ = [
    "SCHEMA_VERSION",
    "AccuracyClass",
    "DasProvider",
    "Meter",
    "MonthlyMeterEnergy",
    "Program",
    "QualityFlag",
    "Reading",
    "ReadingBatch",
    "ReadingEvent",
    "ReportingMethod",
    "Source",
    "System",
    "content_hash",
]
