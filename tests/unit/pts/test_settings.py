"""Settings come from PTS_* variables and reach the stream's limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from pts.settings import Settings
from stream.cli import stream_limits
from stream.stages import Limits

LIMIT_VARIABLES = (
    "PTS_STREAM_FUTURE_TOLERANCE_S",
    "PTS_STREAM_CLOCK_SKEW_S",
    "PTS_STREAM_POWER_TOLERANCE",
)


def test_stream_limits_default_to_the_core_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LIMIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert stream_limits(Settings()) == Limits()


def test_stream_limits_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTS_STREAM_FUTURE_TOLERANCE_S", "60")
    monkeypatch.setenv("PTS_STREAM_CLOCK_SKEW_S", "600")
    monkeypatch.setenv("PTS_STREAM_POWER_TOLERANCE", "1.5")
    assert stream_limits(Settings()) == Limits(
        future=timedelta(minutes=1),
        clock_skew=timedelta(minutes=10),
        power_tolerance=Decimal("1.5"),
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("PTS_STREAM_MAX_BATCH", "0"), ("PTS_STREAM_CONCURRENCY", "17"),
     ("PTS_STREAM_POWER_TOLERANCE", "0"), ("PTS_STREAM_BATCH_WINDOW_S", "-1")],
)  # fmt: skip
def test_out_of_range_stream_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("PTS_").lower()):
        Settings()
