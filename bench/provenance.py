"""Signing on and off in the same run: CPU per reading at the gateway and at the worker.

    python bench/provenance.py [--batches 2000] [--readings 10] [--rounds 5]

Same readings (one meter per batch, chained as the spool chains them) both ways:
- gateway: the agent's encode from the spooled JSON (gateways.agent.batch_payload), unsigned
  and signed with an Ed25519 key (reading hashes + one signature per batch);
- worker: the stream core on the payload bytes (stream.core.Core.sort: decode, stages) with
  no keys, and with the registry's keys and the meter registered as signed (reading hashes +
  one verification per batch).
No services needed (bench/pipeline.py measures the whole pipeline; it calls `measure` too).
Prints the median µs per reading of each and the difference; the machine is shared, so each
figure is the median of `--rounds`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateways.agent import batch_payload
from gateways.signing import Ed25519Signer
from schemas.envelope import reading_hash
from schemas.reading import Reading, Source
from schemas.signing_keys import SigningKey
from stream.core import Core
from stream.directory import MeterInfo, StaticDirectory
from stream.signatures import StaticKeys

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def spooled_bodies(batches: int, readings: int) -> list[list[str]]:
    """Reading JSON as the spool holds it (chained), `readings` per batch of meter bm-0."""
    out: list[list[str]] = []
    prev: str | None = None
    for b in range(batches):
        bodies = []
        for i in range(readings):
            n = b * readings + i
            ts = T0 + timedelta(minutes=n)
            reading = Reading(
                meter_id="bm-0", ts=ts, energy_wh=1_000 + 17 * n, source=Source.GATEWAY,
                source_id="gw-bench", seq=n + 1, received_at=ts, unit_id=1, scale_factor=0,
                raw_words=(0, (1_000 + 17 * n) & 0xFFFF), register_modulus_wh=2**32,
                prev_hash=prev,
            )  # fmt: skip
            prev = reading_hash(reading).hex()
            bodies.append(reading.model_dump_json())
        out.append(bodies)
    return out


def _micros_per_reading(run: Callable[[], object], readings: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return statistics.median(times) / readings * 1e6


def measure(batches: int = 2_000, readings: int = 10, rounds: int = 5) -> dict[str, float]:
    """µs of CPU per reading: gateway encode and worker sort, unsigned and signed."""
    bodies = spooled_bodies(batches, readings)
    signer = Ed25519Signer.of(Ed25519PrivateKey.generate())
    key = SigningKey(
        signer_id="gw-bench", key_id=signer.key_id, public_key=signer.public_key_b64,
        valid_from=T0 - timedelta(days=1),
    )  # fmt: skip
    directory = StaticDirectory(
        [MeterInfo("bm-0", "S-bm-0", "America/New_York", Decimal(1000), None, "gw-bench")]
    )
    plain_core = Core(directory)
    signed_core = Core(directory, keys=StaticKeys({key.key_id: key}, frozenset({"bm-0"})))
    unsigned = [batch_payload("gw-bench", b) for b in bodies]
    signed = [batch_payload("gw-bench", b, signer) for b in bodies]
    now = T0 + timedelta(minutes=batches * readings + 60)
    total = batches * readings

    def sort_all(core: Core, payloads: list[bytes]) -> None:
        for p in payloads:
            got = core.triage(p, key=b"bm-0", now=now)
            assert len(got.to_write) == readings, got.rejects[:1]

    return {
        "gateway encode, unsigned": _micros_per_reading(
            lambda: [batch_payload("gw-bench", b) for b in bodies], total, rounds
        ),
        "gateway encode, signed": _micros_per_reading(
            lambda: [batch_payload("gw-bench", b, signer) for b in bodies], total, rounds
        ),
        "worker core, unsigned": _micros_per_reading(
            lambda: sort_all(plain_core, unsigned), total, rounds
        ),
        "worker core, signed + verified": _micros_per_reading(
            lambda: sort_all(signed_core, signed), total, rounds
        ),
    }


def report(figures: dict[str, float], readings: int) -> str:
    lines = [f"  {'CPU µs per reading (' + str(readings) + ' readings/batch)':52s} {'median':>8s}"]
    lines += [f"  {name:52s} {value:8.1f}" for name, value in figures.items()]
    gw = figures["gateway encode, signed"] - figures["gateway encode, unsigned"]
    wk = figures["worker core, signed + verified"] - figures["worker core, unsigned"]
    lines.append(f"  {'signing costs the gateway':52s} {gw:+8.1f}")
    lines.append(f"  {'verifying costs the worker':52s} {wk:+8.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batches", type=int, default=2_000)
    parser.add_argument("--readings", type=int, default=10, help="readings per batch")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(report(measure(args.batches, args.readings, args.rounds), args.readings))


if __name__ == "__main__":
    main()
