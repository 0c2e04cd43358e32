"""Golden meter cases: each tests/gateways/cases/<case>/ holds the map, the registers the meter
serves and the sample expected (or the error expected); one parametrised test runs them all."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateways.clock import SteppedClock
from gateways.errors import GatewayError
from gateways.fake_link import ImageLink
from gateways.meters import MeterConfig
from gateways.poller import MeterPoller
from gateways.sample import MeterFailure, MeterSample

CASES = Path(__file__).resolve().parents[2] / "gateways" / "cases"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)  # the poll instant (a meter clock is compared to it)


def served_image(spec: dict[str, Any]) -> dict[int, int]:
    image: dict[int, int] = {}
    for zeros in spec.get("zeros") or []:
        image.update(dict.fromkeys(range(zeros["at"], zeros["at"] + zeros["count"]), 0))
    for block in spec["blocks"]:
        image.update(zip(range(block["at"], block["at"] + len(block["words"])), block["words"],
                         strict=True))  # fmt: skip
    return image


def run_case(folder: Path) -> dict[str, Any]:
    """The case's map and served registers through the poller that production runs
    (MeterPoller: map loading or SunSpec discovery, reads, decode) on an ImageLink."""
    return asyncio.run(_poll_case(folder))


async def _poll_case(folder: Path) -> dict[str, Any]:
    map_spec = yaml.safe_load((folder / "map.yaml").read_text())
    link = ImageLink(served_image(yaml.safe_load((folder / "registers.yaml").read_text())))
    if "sunspec" in map_spec:
        meter = MeterConfig(meter_id="M1", map="sunspec", **map_spec["sunspec"])
    else:
        meter = MeterConfig(meter_id="M1", map=str(folder / "map.yaml"))
    poller = MeterPoller([meter], SteppedClock(NOW), link_factory=lambda _: link)
    first = await poller.poll_one(meter, NOW)  # discovery (SunSpec) and the first read
    if isinstance(first, MeterFailure):
        raise first.error
    link.requests.clear()
    sample = await poller.poll_one(meter, NOW)  # a steady poll: the register's reads only
    assert isinstance(sample, MeterSample)
    assert sample == first
    return {
        "reads": [[address, count] for _, _, address, count in link.requests],
        "energy_wh": sample.energy_wh,
        "scale_factor": sample.scale_factor,
        "raw_words": list(sample.raw_words),
        "register_modulus_wh": sample.register_modulus_wh,
        "meter_ts": sample.ts.isoformat() if sample.ts != NOW else None,
    }


@pytest.mark.parametrize("folder", sorted(CASES.iterdir()), ids=lambda p: p.name)
def test_golden_case(folder: Path) -> None:
    """The case's registers decode to exactly the expected sample, or fail as expected."""
    expected = yaml.safe_load((folder / "expected.yaml").read_text())
    if "error" in expected:
        with pytest.raises(GatewayError) as caught:
            run_case(folder.resolve())
        assert type(caught.value).__name__ == expected["error"]
        message = str(caught.value).replace(str(folder.resolve() / "map.yaml"), "map.yaml")
        if "message" in expected:
            assert message == expected["message"]
        else:
            assert message.startswith(expected["message_startswith"])
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
