"""The deterministic TBFT cluster simulation: 200 seeds, safety and liveness."""

from __future__ import annotations

import pytest

from jinglian.testing.sim import Faults, run_simulation


@pytest.mark.parametrize("seed", range(200))
def test_seed_is_safe_and_live(seed: int) -> None:
    result = run_simulation(seed)
    assert result.ok, result.message
    assert sorted(result.decided) == [1, 2, 3]


def test_same_seed_replays_exactly() -> None:
    first, second = run_simulation(7), run_simulation(7)
    assert (first.decided, first.time_ms, first.deliveries) == (
        second.decided,
        second.time_ms,
        second.deliveries,
    )


def test_byzantine_partitioned_lossy_cluster_of_seven() -> None:
    faults = Faults(drop_rate=0.2, duplicate_rate=0.1, partition=True, heal_ms=3000, byzantine=True)
    result = run_simulation(11, validators=7, heights=4, faults=faults)
    assert result.ok, result.message
    assert len(result.decided) == 4


def test_failure_message_says_how_to_replay() -> None:
    # Four validators split two and two never reach a quorum before healing; with a
    # zero liveness window the run fails and must print the replay command.
    from jinglian.testing.sim import _cluster

    original = _cluster.LIVENESS_BOUND_MS
    _cluster.LIVENESS_BOUND_MS = 0
    try:
        result = run_simulation(3, validators=4, faults=Faults(partition=True, heal_ms=100))
    finally:
        _cluster.LIVENESS_BOUND_MS = original
    assert not result.ok
    assert "python -m jinglian.testing.sim --seed 3" in result.message
