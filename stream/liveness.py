"""The stream worker's liveness watchdog: exit when the worker has stopped consuming.

A Faust worker whose broker died while it was joining its group (before it held partitions
and had fetched its offsets) can stay up for good without consuming again: no error, no
exit, so its supervisor (systemd Restart=always) never restarts it. The watchdog runs in a
thread of its own (Faust starts its timers only once the worker is fully started, which such
a worker never is) and every `interval_s` asks Kafka for the readings topic's end offsets
and the group's committed offsets, and the worker which partitions it holds and how busy it
has been.

`Stall.observe` is the pure decision. A partition *stalls* while it has lag (end offset past
the committed one) and its committed offset does not move; the worker's own work (buffers
taken, database retries) restarts the clock of the partitions it holds, and a round in
which Kafka did not answer restarts every clock (a broker that is down is not the worker's
fault; the clocks run again once it answers), and so does a round that comes much later
than the one before (the process was frozen, e.g. SIGSTOP or a suspended VM: it could not
have worked meanwhile). The worker exits when, for longer than
`stall_exit_s`:
- a partition it holds stalls, or
- it holds no partition and some partition stalls (nobody consumes it).
Exiting loses nothing: what was not committed is delivered again, and the database side is
idempotent.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)

EXIT_STALLED = 75  # EX_TEMPFAIL: start me again


@dataclass(frozen=True, slots=True)
class Observation:
    """One round: the worker's partitions, the group's committed offsets, the topic's end
    offsets (partition -> offset) and a counter of the worker's own work."""

    held: frozenset[int]
    committed: Mapping[int, int]
    ends: Mapping[int, int]
    work: int


@dataclass(slots=True)
class Stall:
    """Since when each partition has stalled (module docstring)."""

    stall_exit_s: float
    max_gap_s: float = float("inf")  # rounds further apart restart every clock
    _since: dict[int, float] = field(default_factory=dict)
    _last: float | None = None
    _committed: dict[int, int] = field(default_factory=dict)
    _work: int | None = None

    def unreachable(self, now: float) -> None:
        """Kafka did not answer this round: every stall clock starts again."""
        for partition in self._since:
            self._since[partition] = now

    def observe(self, seen: Observation, now: float) -> str | None:
        """Take one round; a sentence saying why the worker must exit, or None."""
        if self._last is not None and now - self._last > self.max_gap_s:
            self.unreachable(now)
        self._last = now
        worked = self._work is not None and seen.work != self._work
        self._work = seen.work
        stalled: dict[int, float] = {}
        for partition, end in seen.ends.items():
            committed = seen.committed.get(partition, 0)
            moved = self._committed.get(partition) != committed
            self._committed[partition] = committed
            if end <= committed:
                self._since.pop(partition, None)
                continue
            if moved or partition not in self._since or (worked and partition in seen.held):
                self._since[partition] = now
            stalled[partition] = now - self._since[partition]
        over = {p: s for p, s in stalled.items() if s > self.stall_exit_s}
        held = over.keys() & seen.held
        if held:
            partition = min(held)
            return (
                f"partition {partition} held by this worker has had lag "
                f"{seen.ends[partition] - seen.committed.get(partition, 0)} and no progress "
                f"for {over[partition]:.0f} s"
            )
        if over and not seen.held:
            partition = min(over)
            return (
                f"this worker holds no partition while partition {partition} has had lag "
                f"{seen.ends[partition] - seen.committed.get(partition, 0)} and no progress "
                f"for {over[partition]:.0f} s"
            )
        return None


Measure = Callable[[], Awaitable[tuple[Mapping[int, int], Mapping[int, int]]]]


class Watchdog:
    """Runs `Stall` every `interval_s` in a daemon thread with its own event loop;
    `measure` returns (committed, ends), `held` and `work` read the worker's state, `exit`
    ends the process (os._exit by default: the Faust loop may be the part that is stuck)."""

    def __init__(
        self,
        *,
        stall_exit_s: float,
        interval_s: float,
        measure: Measure,
        held: Callable[[], frozenset[int]],
        work: Callable[[], int],
        exit: Callable[[int], object] = os._exit,
    ) -> None:
        self.stall = Stall(stall_exit_s, max_gap_s=interval_s * 4)
        self.interval_s = interval_s
        self._measure = measure
        self._held = held
        self._work = work
        self._exit = exit
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pts-liveness", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            reason = self.check()
            if reason is not None:
                log.error("worker_stalled_exiting", reason=reason, exit_code=EXIT_STALLED)
                self._exit(EXIT_STALLED)
                return

    def check(self) -> str | None:
        """One round (measure, decide); the reason to exit, or None."""
        held, work = self._held(), self._work()
        try:
            committed, ends = asyncio.run(
                asyncio.wait_for(self._measure(), timeout=self.interval_s * 2)
            )
        except Exception as exc:  # Kafka down or slow: not the worker's fault
            log.info("liveness_measure_failed", error=str(exc) or type(exc).__name__)
            self.stall.unreachable(time.monotonic())
            return None
        return self.stall.observe(Observation(held, committed, ends, work), time.monotonic())
