"""Faust's own ceiling: consume a topic with the stream worker's settings, doing nothing.

    python bench/faust_consume.py --topic T --count N [--max-batch 500] [--within 0.2]

Runs one Faust agent that takes events in buffers exactly as `pts stream worker` does
(`take_events(max_batch, within)`, raw bytes, same commit settings) and only counts them.
Prints the seconds from the first event to the N-th and the process CPU per message, then
exits. bench/pipeline.py runs it on the topic its raw Kafka produce filled: what remains
between this figure and the pipeline's is the worker's own work (decode, validation, the
writer and the rollups).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import faust

# bench/storage.py would shadow the `storage` package: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from pts.settings import Settings  # noqa: E402 - after the sys.path fix above
from stream.faust_app import make_app  # noqa: E402 - after the sys.path fix above


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    defaults = Settings.model_fields
    parser.add_argument("--max-batch", type=int, default=defaults["stream_max_batch"].default)
    parser.add_argument("--within", type=float, default=defaults["stream_batch_window_s"].default)
    args = parser.parse_args()
    app = make_app(
        f"bench-faust-{uuid.uuid4().hex[:8]}",
        args.bootstrap,
        Path(tempfile.mkdtemp(prefix="pts-bench-faust-")),
    )
    topic = app.topic(args.topic, key_type=bytes, value_type=bytes, allow_empty=True)
    seen = 0
    started: tuple[float, float] | None = None

    async def count(stream: Any) -> None:
        nonlocal seen, started
        async for events in stream.take_events(args.max_batch, within=args.within):
            if started is None:
                started = (time.perf_counter(), time.process_time())
            seen += len(events)
            if seen >= args.count:
                wall = time.perf_counter() - started[0]
                cpu = time.process_time() - started[1]
                print(f"\nfaust_consume seconds={wall:.6f} cpu_us_per_message="
                      f"{cpu / seen * 1e6:.1f}", flush=True)  # fmt: skip
                os._exit(0)  # no shutdown dance: the figure is printed

    app.agent(topic, name="count")(count)
    worker = faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
