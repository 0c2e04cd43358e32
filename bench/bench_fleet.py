"""The benchmark fleet written straight into a migrated database: one 50 kW automatic system
per meter (provider `bench`, meters M-0001…, systems S-0001…) and a 15-minute cumulative
register per meter, with the same pseudo-random daytime production for every benchmark that
uses it (bench/analyst.py, bench/month_close.py).

Named bench_fleet, not fleet or storage: the bench scripts drop this folder from sys.path (so
bench/storage.py does not shadow the `storage` package) and import this module as
`bench.bench_fleet` from the repository root.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

_REGISTRY = (
    "INSERT INTO das_providers (provider_id, name, approved) VALUES ('bench', 'bench', true)",
    """
INSERT INTO systems (system_id, owner_id, capacity_kw_dc, program, reporting_method,
                     das_provider_id, timezone)
SELECT format('S-%%s', lpad(m::text, 4, '0')), 'owner', 50, 'srec_ii', 'automatic', 'bench', %(tz)s
FROM generate_series(1, %(meters)s) m
""",
    """
INSERT INTO meters (meter_id, system_id, serial, model, accuracy_class, installed_on,
                    register_modulus_wh)
SELECT format('M-%%s', lpad(m::text, 4, '0')), format('S-%%s', lpad(m::text, 4, '0')),
       format('SN-%%s', m), 'SIM-203', '0.5', '2024-01-01', 4294967296
FROM generate_series(1, %(meters)s) m
""",
)
# Daytime production, pseudo-random per meter and slot (cheap integer hashing); the register
# is its running sum; a 64-hex content hash per row like the real one (it does not compress).
_READINGS = """
INSERT INTO readings (meter_id, ts, energy_wh, source, source_id, seq, received_at,
                      content_hash, register_modulus_wh)
SELECT %(meter)s, ts, 1000000 + sum(inc) OVER (ORDER BY ts), 'das', 'bench',
       row_number() OVER (ORDER BY ts), ts, md5(%(meter)s || ts::text) || md5(ts::text),
       %(modulus)s::bigint
FROM (
    SELECT ts,
           CASE WHEN extract(hour FROM ts AT TIME ZONE %(tz)s) BETWEEN 7 AND 17
                THEN ((extract(epoch FROM ts)::bigint / 900 * 2654435761 + %(m)s * 40503)
                      %% 8191)::integer
                ELSE 0 END AS inc
    FROM generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz, interval '15 minutes') ts
) g
"""


def meter_id(m: int) -> str:
    """The id of the fleet's meter number `m` (1-based)."""
    return f"M-{m:04d}"


def load_registry(conn: psycopg.Connection[Any], meters: int, tz: str) -> None:
    """The provider, `meters` systems in time zone `tz` and their meters."""
    for statement in _REGISTRY:
        conn.execute(statement, {"meters": meters, "tz": tz} if "%(" in statement else None)


def load_readings(
    conn: psycopg.Connection[Any],
    m: int,
    lo: datetime,
    hi: datetime,
    tz: str,
    register_modulus_wh: int | None = None,
) -> None:
    """Meter `m`'s 15-minute readings from `lo` to `hi` (their partitions must exist), each
    row's register_modulus_wh as given (None: not stored)."""
    params = {"m": m, "meter": meter_id(m), "lo": lo, "hi": hi, "tz": tz,
              "modulus": register_modulus_wh}  # fmt: skip
    conn.execute(_READINGS, params)
