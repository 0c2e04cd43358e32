"""One id definition: every place that checks a meter, system or gateway id agrees with
schemas.ids, and no module writes the pattern again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateways.agent_config import GatewayConfig
from gateways.meters import MeterConfig
from ingest.errors import EnvelopeError
from ingest.topics import OurTopics
from schemas.ids import ID_MAX_LENGTH, is_id
from schemas.reading import Reading, Source
from schemas.registry import System

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("schemas", "gateways", "ingest", "stream", "storage", "certification", "web", "pts")
VALID = ["M1", "meter-01", "site.a_7", "A", "x" * ID_MAX_LENGTH]
INVALID = ["", "-m", ".m", "_m", "m/1", "m 1", "m+", "métér", "x" * (ID_MAX_LENGTH + 1), "m#"]


@pytest.mark.parametrize("value", VALID)
def test_valid_ids(value: str) -> None:
    """Letters, digits, '.', '_', '-' after a letter or digit, up to 64 characters."""
    assert is_id(value)


@pytest.mark.parametrize("value", INVALID)
def test_invalid_ids(value: str) -> None:
    """Empty, leading punctuation, other characters or too long: refused."""
    assert not is_id(value)


def accepts(build: object, value: str) -> bool:
    try:
        build(value)  # type: ignore[operator]
    except (ValidationError, ValueError, EnvelopeError):
        return False
    return True


def reading(meter_id: str) -> Reading:
    ts = datetime(2026, 10, 1, tzinfo=UTC)
    return Reading(meter_id=meter_id, ts=ts, energy_wh=1, source=Source.GATEWAY,
                   source_id="gw", received_at=ts, seq=1)  # fmt: skip


def topic(meter_id: str) -> None:
    if OurTopics().parse(f"pts/v1/gw-1/{meter_id}/readings").meter_id != meter_id:
        raise ValueError(meter_id)


BUILDERS = {
    "Reading.meter_id": reading,
    "System.system_id": lambda v: System(
        system_id=v, owner_id="o", capacity_kw_dc=5, das_provider_id="p"
    ),
    "MeterConfig.meter_id": lambda v: MeterConfig(meter_id=v, map="sunspec"),
    "GatewayConfig.gateway_id": lambda v: GatewayConfig(gateway_id=v, meters=[]),
    "topic meter level": topic,
}


@pytest.mark.parametrize("where", sorted(BUILDERS))
def test_every_place_agrees_with_schemas_ids(where: str) -> None:
    """Each place accepts exactly the ids schemas.ids accepts (among these samples)."""
    build = BUILDERS[where]
    assert [v for v in VALID + INVALID if accepts(build, v)] == [v for v in VALID if v != ""]


def test_the_pattern_is_written_once() -> None:
    """No module but schemas/ids.py spells the id pattern."""
    spelled = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "A-Za-z0-9][A-Za-z0-9" in path.read_text() or "a-z0-9][a-z0-9" in path.read_text()
    ]
    assert spelled == ["schemas/ids.py"]
