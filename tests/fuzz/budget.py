"""The fuzz budget: examples per target (hypothesis), fixed in CI, larger under bench/fuzz.py.

`PTS_FUZZ_EXAMPLES` (default 200) sets it for tests/fuzz; bench/fuzz.py runs the targets with a
larger one and prints each target's runtime. Every target keeps to about 10 s at the default.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("PTS_FUZZ_EXAMPLES", "200"))

fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("PTS_FUZZ_RANDOM") is None,  # CI: the same examples each run
)
