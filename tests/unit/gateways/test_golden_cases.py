"""Golden meter cases: each tests/gateways/cases/<case>/ holds the map, the registers the meter
serves and the sample expected (or the error expected); one parametrised test runs them all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateways.errors import GatewayError
from gateways.register_map import EnergyRegister, image_from_reads, read_image
from gateways.sunspec import SUNSPEC_BASES, discover
from gateways.yaml_map import parse_map

CASES = Path(__file__).resolve().parents[2] / "gateways" / "cases"


def served_image(spec: dict[str, Any]) -> dict[int, int]:
    image: dict[int, int] = {}
    for zeros in spec.get("zeros") or []:
        image.update(dict.fromkeys(range(zeros["at"], zeros["at"] + zeros["count"]), 0))
    for block in spec["blocks"]:
        image.update(zip(range(block["at"], block["at"] + len(block["words"])), block["words"],
                         strict=True))  # fmt: skip
    return image


def run_case(folder: Path) -> dict[str, Any]:
    """Map → discovery (SunSpec) → reads → decode, against the served image."""
    map_spec = yaml.safe_load((folder / "map.yaml").read_text())
    image = served_image(yaml.safe_load((folder / "registers.yaml").read_text()))

    def read(address: int, count: int) -> tuple[int, ...]:
        return read_image(image, address, count)

    register: EnergyRegister
    if "sunspec" in map_spec:
        bases = map_spec["sunspec"].get("bases", SUNSPEC_BASES)
        register = discover(read, bases).register
    else:
        register = parse_map(map_spec)
    reads = register.reads()
    decoded = register.decode(image_from_reads(reads, [read(a, c) for a, c in reads]))
    return {
        "reads": [list(r) for r in reads],
        "energy_wh": decoded.energy_wh,
        "scale_factor": decoded.scale_factor,
        "raw_words": list(decoded.raw_words),
        "register_modulus_wh": decoded.register_modulus_wh,
        "meter_ts": decoded.meter_ts.isoformat() if decoded.meter_ts else None,
    }


@pytest.mark.parametrize("folder", sorted(CASES.iterdir()), ids=lambda p: p.name)
def test_golden_case(folder: Path) -> None:
    """The case's registers decode to exactly the expected sample, or fail as expected."""
    expected = yaml.safe_load((folder / "expected.yaml").read_text())
    if "error" in expected:
        with pytest.raises(GatewayError) as caught:
            run_case(folder)
        assert type(caught.value).__name__ == expected["error"]
        if "message" in expected:
            assert str(caught.value) == expected["message"]
        else:
            assert str(caught.value).startswith(expected["message_startswith"])
    else:
        assert run_case(folder) == expected


def test_every_case_is_complete() -> None:
    """Every case folder has its three files, and there are cases of both kinds."""
    folders = sorted(CASES.iterdir())
    assert len(folders) == 22
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == [
            "expected.yaml", "map.yaml", "registers.yaml",
        ]  # fmt: skip
