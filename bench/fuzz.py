"""Fuzz every decoder with a larger budget than CI's, and say how long each target took.

    python bench/fuzz.py [EXAMPLES] [--random | --ci]

The targets are the hypothesis tests of tests/fuzz and the bounds tests (MQTT envelope, DAS
JSON and CSV, the stream core). CI runs each with PTS_FUZZ_EXAMPLES=200 (the default) and
derandomized, so a run there always tries the same examples; this runs each target as its own
pytest process with EXAMPLES examples (default 5,000), and with `--random` (the default here)
new random examples each time. `--ci` runs CI's budget and prints the runtimes CI pays
(each target should stay near 10 s). A failure prints hypothesis's smallest failing example;
add it as an @example beside the fix. No ceiling applies: the figure is examples per second.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TARGETS = {
    "MQTT envelope (bridge)": "tests/unit/ingest/test_envelope_bounds.py::"
    "test_fuzz_envelope_gives_records_that_fit_or_a_dead_letter_with_a_reason",
    "DAS JSON report": "tests/unit/ingest/test_intake_bounds.py::"
    "test_fuzz_json_report_is_a_plan_or_a_refusal_with_a_reason",
    "DAS CSV report": "tests/unit/ingest/test_intake_bounds.py::"
    "test_fuzz_csv_report_is_a_plan_or_a_refusal_with_a_reason",
    "stream core": "tests/unit/stream/test_bounds.py::"
    "test_fuzz_the_core_gives_readings_within_bounds_or_refusals_with_a_reason",
    "YAML register map": "tests/fuzz/test_fuzz_register_maps.py",
    "registry YAML": "tests/fuzz/test_fuzz_registry_yaml.py::"
    "test_fuzz_registry_text_gives_valid_records_or_a_refusal",
    "manual report (portal form)": "tests/fuzz/test_fuzz_manual_reports.py::"
    "test_fuzz_report_form_gives_a_reading_or_a_refusal",
    "manual report (CLI, API)": "tests/fuzz/test_fuzz_manual_reports.py::"
    "test_fuzz_cli_and_api_report_gives_a_reading_or_a_refusal",
    "Modbus answers (poller)": "tests/fuzz/test_fuzz_modbus_words.py",
}


def run(target: str, examples: int, random: bool) -> tuple[float, float, bool, str]:
    """(wall seconds, seconds pytest says the test took, passed, output tail)."""
    env = {**os.environ, "PTS_FUZZ_EXAMPLES": str(examples)}
    if random:
        env["PTS_FUZZ_RANDOM"] = "1"
    else:
        env.pop("PTS_FUZZ_RANDOM", None)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", target, "-q", "-p", "no:randomly", "-p",
         "no:cacheprovider", "--timeout", "0", "-x"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = re.search(r" in ([0-9.]+)s", done.stdout)
    tested = float(found.group(1)) if found else float("nan")
    return time.perf_counter() - start, tested, done.returncode == 0, done.stdout[-3000:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("examples", nargs="?", type=int, default=5_000)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--random", action="store_true", default=True, help="new examples")
    mode.add_argument("--ci", action="store_true", help="CI's budget (200, derandomized)")
    args = parser.parse_args()
    examples = 200 if args.ci else args.examples
    random = not args.ci
    print(f"{'target':<30}{'examples':>10}{'test s':>8}{'wall s':>8}{'per s':>8}  outcome")
    failures = []
    for name, target in TARGETS.items():
        wall, tested, passed, output = run(target, examples, random)
        print(
            f"{name:<30}{examples:>10,}{tested:>8.1f}{wall:>8.1f}{examples / tested:>8.0f}  "
            f"{'no failure' if passed else 'FAILED'}",
            flush=True,
        )
        if not passed:
            failures.append((name, output))
    print("(test s: what pytest timed; wall s adds starting pytest and importing the project)")
    for name, output in failures:
        print(f"\n--- {name} ---\n{output}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
