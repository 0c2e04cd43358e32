"""A Modbus link served from a register image (the `RegisterReader` port of
gateways.modbus_client): the poller's production path, discovery included, runs against it
in the golden meter cases and unit tests, with no socket."""

from __future__ import annotations

from collections.abc import Mapping

from gateways.register_map import read_image


class ImageLink:
    """Answers reads from `image` (address → word); a missing register is Modbus exception 2,
    as a meter answers. `requests` records every read as (unit, function, address, count)."""

    def __init__(self, image: Mapping[int, int], name: str = "image") -> None:
        self.name = name
        self.image = dict(image)
        self.requests: list[tuple[int, int, int, int]] = []
        self.closed = False

    async def read(self, unit: int, function: int, address: int, count: int) -> tuple[int, ...]:
        self.requests.append((unit, function, address, count))
        return read_image(self.image, address, count)

    async def close(self) -> None:
        self.closed = True
