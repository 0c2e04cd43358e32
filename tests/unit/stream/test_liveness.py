"""The stream worker's liveness decision (stream.liveness.Stall) and its watchdog round."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from stream.liveness import EXIT_STALLED, Observation, Stall, Watchdog

ENDS = {0: 100, 1: 100}


def seen(
    held: set[int], committed: Mapping[int, int], work: int = 0, ends: Mapping[int, int] = ENDS
) -> Observation:
    return Observation(frozenset(held), committed, ends, work)


def test_a_held_partition_with_lag_and_no_progress_exits_after_the_limit() -> None:
    stall = Stall(60)
    assert stall.observe(seen({0, 1}, {0: 10, 1: 10}), 0) is None
    assert stall.observe(seen({0, 1}, {0: 10, 1: 10}), 60) is None  # not longer than 60 s
    reason = stall.observe(seen({0, 1}, {0: 10, 1: 10}), 61)
    assert reason == "partition 0 held by this worker has had lag 90 and no progress for 61 s"


def test_a_committed_offset_that_moves_restarts_its_clock() -> None:
    stall = Stall(60)
    stall.observe(seen({0}, {0: 10}, ends={0: 100}), 0)
    assert stall.observe(seen({0}, {0: 11}, ends={0: 100}), 50) is None
    assert stall.observe(seen({0}, {0: 11}, ends={0: 100}), 110) is None
    assert stall.observe(seen({0}, {0: 11}, ends={0: 100}), 111) == (
        "partition 0 held by this worker has had lag 89 and no progress for 61 s"
    )


def test_no_lag_is_never_a_stall() -> None:
    stall = Stall(60)
    for now in (0, 100, 1000):
        assert stall.observe(seen({0, 1}, {0: 100, 1: 100}), now) is None
    assert stall.observe(seen(set(), {}, ends={0: 0, 1: 0}), 2000) is None


def test_the_workers_own_work_keeps_its_partitions_alive_but_not_others() -> None:
    """Database retries and buffers taken count as progress for the partitions it holds;
    a partition held elsewhere still stalls, which is the holder's watchdog's business."""
    stall = Stall(60)
    stall.observe(seen({0}, {0: 10, 1: 10}, work=1), 0)
    assert stall.observe(seen({0}, {0: 10, 1: 10}, work=2), 50) is None
    assert stall.observe(seen({0}, {0: 10, 1: 10}, work=3), 100) is None  # 1 stalls, not held
    assert stall.observe(seen({0}, {0: 10, 1: 10}, work=3), 161) == (
        "partition 0 held by this worker has had lag 90 and no progress for 61 s"
    )


def test_holding_nothing_while_a_partition_stalls_exits() -> None:
    stall = Stall(60)
    stall.observe(seen(set(), {}), 0)
    assert stall.observe(seen(set(), {}, work=5), 61) == (
        "this worker holds no partition while partition 0 has had lag 100 and no progress for 61 s"
    )


def test_holding_nothing_while_the_others_progress_stays() -> None:
    """A fifth worker on four partitions holds none: no reason to exit while they move."""
    stall = Stall(60)
    for now, committed in ((0, 10), (50, 20), (100, 30), (150, 40)):
        assert stall.observe(seen(set(), {0: committed, 1: committed}), now) is None


def test_a_round_kafka_did_not_answer_restarts_every_clock() -> None:
    stall = Stall(60)
    stall.observe(seen({0, 1}, {0: 10, 1: 10}), 0)
    stall.unreachable(55)
    assert stall.observe(seen({0, 1}, {0: 10, 1: 10}), 115) is None
    assert stall.observe(seen({0, 1}, {0: 10, 1: 10}), 116) is not None


def test_a_watchdog_round_exits_with_its_code_and_a_failed_measure_does_not() -> None:
    exits: list[int] = []
    answers: list[tuple[dict[int, int], dict[int, int]] | None] = [
        None,
        ({0: 5}, {0: 9}),
        ({0: 5}, {0: 9}),
    ]

    async def measure() -> tuple[dict[int, int], dict[int, int]]:
        answer = answers.pop(0)
        if answer is None:
            raise ConnectionError("broker down")
        return answer

    dog = Watchdog(
        stall_exit_s=0.0,
        interval_s=1.0,
        measure=measure,
        held=lambda: frozenset({0}),
        work=lambda: 0,
        exit=exits.append,
    )
    assert dog.check() is None  # Kafka did not answer
    assert dog.check() is None  # first sight of the lag
    reason = dog.check()
    assert reason is not None
    assert reason.startswith("partition 0 held by this worker has had lag 4 and no progress")
    assert EXIT_STALLED == 75
    assert exits == []  # check() decides; the thread's loop exits


@pytest.mark.parametrize("committed", [{}, {0: 0}])
def test_nothing_committed_counts_from_offset_zero(committed: dict[int, int]) -> None:
    stall = Stall(10)
    stall.observe(seen({0}, committed, ends={0: 7}), 0)
    assert stall.observe(seen({0}, committed, ends={0: 7}), 11) == (
        "partition 0 held by this worker has had lag 7 and no progress for 11 s"
    )


def test_a_round_long_after_the_last_restarts_every_clock() -> None:
    """A worker frozen for a while (SIGSTOP) could not work meanwhile: no exit on waking."""
    stall = Stall(60, max_gap_s=20)
    stall.observe(seen({0}, {0: 10}), 0)
    assert stall.observe(seen({0}, {0: 10}), 15) is None
    assert stall.observe(seen({0}, {0: 10}), 90) is None  # 75 s gap: frozen, clock restarts
    assert stall.observe(seen({0}, {0: 10}), 105) is None
    assert stall.observe(seen({0}, {0: 10}), 120) is None
    assert stall.observe(seen({0}, {0: 10}), 135) is None
    assert stall.observe(seen({0}, {0: 10}), 151) == (
        "partition 0 held by this worker has had lag 90 and no progress for 61 s"
    )
