"""The Timescale migrations' hand-written lists match the code they mirror."""

from __future__ import annotations

import re

from schemas.reading import QualityFlag
from storage.migrate import MIGRATIONS_DIR

ANALYTICS = MIGRATIONS_DIR / "011_analytics.timescale.sql"


def test_monthly_aggregate_keeps_every_flag() -> None:
    """The aggregate has one bool_or column per flag a day row can carry, and the live view
    turns each back into its name, in the sorted order plain mode's months have."""
    sql = ANALYTICS.read_text()
    flags = sorted(f.value for f in QualityFlag)
    columns = re.findall(r"bool_or\('(\w+)' = ANY \(flags\)\) AS f_(\w+)", sql)
    names = re.findall(r"CASE WHEN c\.f_(\w+) THEN '(\w+)' END", sql)
    assert columns == [(f, f) for f in flags]
    assert names == [(f, f) for f in flags]
