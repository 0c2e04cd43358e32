"""One flag vocabulary: every flag a reading, an interval or a day row carries (one `flags`
column) is a schemas.reading.QualityFlag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import stream.energy
from schemas.reading import QualityFlag
from stream.energy import RegisterPoint, register_delta
from stream.rollup import parse_flag

T = datetime(2026, 10, 1, tzinfo=UTC)


def test_derived_flags_are_quality_flags() -> None:
    """A backwards register and an implausible power step are flagged with QualityFlag."""
    later = T + timedelta(minutes=15)
    _, backwards = register_delta(RegisterPoint(T, 1_100), RegisterPoint(later, 1_050))
    assert backwards == frozenset({QualityFlag("non_monotonic")})
    assert all(type(flag) is QualityFlag for flag in backwards)


def test_every_stored_flag_parses_into_the_one_enum() -> None:
    """parse_flag reads each stored value back as the same QualityFlag member."""
    for flag in QualityFlag:
        assert parse_flag(flag.value) is flag
    assert parse_flag("implausible_power") is QualityFlag("implausible_power")


def test_the_stream_defines_no_second_flag_enum() -> None:
    """stream.energy's Flag is QualityFlag itself, not a union with an enum of its own."""
    assert stream.energy.Flag is QualityFlag
    assert not hasattr(stream.energy, "Anomaly")
