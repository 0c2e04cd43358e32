"""Solar production for a simulated meter, pure and exact.

A meter's register counts whole Wh each minute: the energy of minute m is
floor(capacity × clear-sky fraction × cloud factor / 60) Wh, deterministic for a seed. The
cumulative energy at any instant is therefore an exact integer function of time, which is the
ground truth the pipeline's totals are checked against.
"""

from __future__ import annotations

import functools
import math
import random
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

LATITUDE = math.radians(42.36)  # Boston
LONGITUDE = -71.06


def clear_sky_fraction(instant: datetime) -> float:
    """Fraction of nameplate a fixed south-facing array gives under a clear sky (0 at night)."""
    utc = instant.astimezone(UTC)
    day = utc.timetuple().tm_yday
    declination = math.radians(23.44) * math.sin(2 * math.pi * (284 + day) / 365)
    solar_hours = utc.hour + utc.minute / 60 + LONGITUDE / 15  # mean solar time
    hour_angle = math.radians(15 * (solar_hours - 12))
    elevation = math.asin(
        math.sin(LATITUDE) * math.sin(declination)
        + math.cos(LATITUDE) * math.cos(declination) * math.cos(hour_angle)
    )
    if elevation <= 0:
        return 0.0
    # air-mass attenuation and a roughly optimal fixed tilt
    air_mass = 1 / max(math.sin(elevation), 0.05)
    return float(0.72 * math.sin(elevation) ** 0.3 * 0.7 ** (air_mass**0.678) / 0.7)


# Days of curves kept: the simulator serves days in order (a soak steps 62 simulated days per
# real hour), so a few recent days are all it asks for again; an older day is recomputed, to
# the same values (deterministic). Unbounded, they grew ~50 MB/h for 20 meters.
CLEAR_SKY_DAYS_KEPT = 16
PROFILE_DAYS_KEPT = 4


@functools.lru_cache(maxsize=CLEAR_SKY_DAYS_KEPT)
def clear_sky_day(ordinal: int) -> tuple[float, ...]:
    """Clear-sky fraction at the middle of each minute of a UTC day (shared by every meter)."""
    start = datetime.fromordinal(ordinal).replace(tzinfo=UTC)
    return tuple(
        clear_sky_fraction(start + timedelta(minutes=minute, seconds=30)) for minute in range(1440)
    )


class SolarProfile:
    """Per-minute integer Wh for one meter, with seeded clouds, counted from `origin`."""

    def __init__(
        self, capacity_w: int, seed: int, origin: datetime, cloudiness: float = 0.35
    ) -> None:
        self.capacity_w = capacity_w
        self._seed = seed
        self._cloudiness = cloudiness
        self._origin = origin.astimezone(UTC).toordinal()
        self.origin = datetime.fromordinal(self._origin).replace(tzinfo=UTC)  # UTC midnight
        # UTC day ordinal -> cumulative Wh per minute, the PROFILE_DAYS_KEPT latest used
        self._days: OrderedDict[int, list[int]] = OrderedDict()
        self._prefixes: dict[int, int] = {self._origin: 0}  # Wh before each day since origin

    def _day(self, ordinal: int) -> list[int]:
        cached = self._days.get(ordinal)
        if cached is not None:
            self._days.move_to_end(ordinal)
            return cached
        rnd = random.Random(self._seed * 1_000_003 + ordinal)
        day_cloud = 1 - self._cloudiness * rnd.random()
        sky = clear_sky_day(ordinal)
        per_minute_w = self.capacity_w / 60
        cumulative = [0]
        total = 0
        cloud = day_cloud
        for minute in range(1440):
            if minute % 10 == 0:
                cloud = max(0.1, min(1.0, day_cloud + rnd.gauss(0, 0.15)))
            total += int(per_minute_w * sky[minute] * cloud)
            cumulative.append(total)
        self._days[ordinal] = cumulative
        if len(self._days) > PROFILE_DAYS_KEPT:
            self._days.popitem(last=False)
        return cumulative

    def cumulative_wh(self, instant: datetime) -> int:
        """Energy registered from the origin's UTC midnight to `instant` (whole minutes)."""
        utc = instant.astimezone(UTC)
        ordinal = utc.toordinal()
        if ordinal < self._origin:
            raise ValueError(f"{instant} is before this profile's origin")
        known = (
            ordinal if ordinal in self._prefixes else max(d for d in self._prefixes if d <= ordinal)
        )
        total = self._prefixes[known]
        for day in range(known, ordinal):
            total += self._day(day)[-1]
            self._prefixes[day + 1] = total
        return total + self._day(ordinal)[utc.hour * 60 + utc.minute]
