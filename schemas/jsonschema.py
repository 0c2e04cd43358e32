"""Export the contracts as JSON Schema files for DAS providers and other implementers."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.reading import Reading, ReadingBatch
from schemas.registry import DasProvider, Meter, System
from schemas.registry_file import RegistryFile
from schemas.rollup import MonthlyMeterEnergy

EXPORTED: dict[str, type[BaseModel]] = {
    "reading": Reading,
    "reading_batch": ReadingBatch,
    "system": System,
    "meter": Meter,
    "das_provider": DasProvider,
    "monthly_meter_energy": MonthlyMeterEnergy,
    "registry": RegistryFile,  # the document `pts registry load` reads (docs/registry.md)
}


def export_json_schemas(directory: Path) -> list[Path]:
    """Write one `<name>.schema.json` per contract into `directory`; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in EXPORTED.items():
        path = directory / f"{name}.schema.json"
        schema = model.model_json_schema()
        schema["$id"] = f"https://pts.invalid/schemas/v1/{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
