"""Print the fault table for the README from what the fault suite recorded.

`python -m pytest tests/faults` appends one line per run to .local/artifacts/faults.jsonl;
this prints the latest run of each fault as a Markdown table: readings lost (expected minus
kept: stored, or kept beside a stored one as a conflict), readings delivered again that the
worker recognised and stored once (its duplicate counter, since its last start), conflicts,
whether every month total equals ground truth."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / ".local" / "artifacts" / "faults.jsonl"


def main() -> None:
    latest: dict[str, dict[str, object]] = {}
    for line in RESULTS.read_text().splitlines():
        entry = json.loads(line)
        latest[str(entry["fault"])] = entry
    print(
        "| fault | readings | lost | delivered again, stored once | conflicts | month totals "
        "| recovery | restarts |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for fault, e in latest.items():
        expected, stored = int(str(e["expected"])), int(str(e["stored"]))
        restarts = e["restarts"]
        assert isinstance(restarts, dict)
        print(
            f"| {fault} | {expected:,} | {max(expected - stored, 0)} | "
            f"{int(float(str(e.get('duplicates', 0)))):,} | "
            f"{int(float(str(e.get('conflicts', 0))))} | "
            f"{'exact' if e['totals_exact'] else 'WRONG'} | "
            f"{e['recovery_s']} s | bridge {restarts['bridge']}, worker {restarts['worker']} |"
        )


if __name__ == "__main__":
    main()
