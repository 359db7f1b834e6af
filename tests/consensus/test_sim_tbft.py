"""The deterministic TBFT cluster simulation: 1,000 seeds, safety and liveness, and its own checks.

The seeds run in chunks so that pytest-xdist spreads them over cores; each
failure message carries the command that replays it.
"""

from __future__ import annotations

import pytest

from jinglian.testing.sim import BEHAVIOURS, Faults, run_simulation
from jinglian.testing.sim._faults import compute_powers, derive_setup
from jinglian.testing.sim._safety import SafetyChecker
from jinglian.testing.sim._wire import CHAIN_ID, fake_sign, sign_vote, verify_commit
from jinglian.types import Commit, CommitSignature
from jinglian.types.block import vote_sign_bytes
from jinglian.types.consensus import NIL, Proposal, Vote

SEEDS = 1000
CHUNK = 50


@pytest.mark.parametrize("first", range(0, SEEDS, CHUNK))
def test_seeds_are_safe_and_live(first: int) -> None:
    failures = []
    for seed in range(first, first + CHUNK):
        result = run_simulation(seed)
        if not result.ok or sorted(result.decided) != [1, 2, 3]:
            failures.append(result.message or f"seed {seed}: decided {sorted(result.decided)}")
    assert not failures, "\n".join(failures)


def test_seeds_cover_every_fault() -> None:
    setups = [derive_setup(seed) for seed in range(SEEDS)]
    behaviours = {b for _, faults in setups for b in faults.byzantine}
    assert behaviours == set(BEHAVIOURS)
    assert any(len(f.byzantine) == 2 for _, f in setups)
    assert all(len(f.byzantine) <= (size - 1) // 3 for size, f in setups)
    assert sum(f.crashes > 0 for _, f in setups) > SEEDS // 3
    assert {size for size, _ in setups} == {4, 5, 6, 7}
    assert {f.reweigh_at for _, f in setups} == {0, 2, 3}


def test_same_seed_replays_exactly() -> None:
    first, second = run_simulation(7), run_simulation(7)
    assert (first.decided, first.time_ms, first.deliveries, first.restarts) == (
        second.decided,
        second.time_ms,
        second.deliveries,
        second.restarts,
    )


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_each_byzantine_behaviour_in_a_lossy_partitioned_cluster(behaviour: str) -> None:
    faults = Faults(
        drop_rate=0.2,
        duplicate_rate=0.1,
        partition=True,
        heal_ms=2000,
        byzantine=(behaviour, behaviour),  # type: ignore[arg-type]
        crashes=2,
    )
    result = run_simulation(11, validators=7, heights=4, faults=faults)
    assert result.ok, result.message
    assert len(result.decided) == 4


def test_crashed_validators_restart_from_their_wal_and_catch_up() -> None:
    faults = Faults(heal_ms=1000, crashes=6)
    results = [run_simulation(seed, validators=4, heights=5, faults=faults) for seed in range(20)]
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    assert sum(r.restarts for r in results) >= 20
    assert sum(r.synced for r in results) > 0


def test_validator_set_changes_at_a_height() -> None:
    ids = [b"n0", b"n1", b"n2", b"n3"]
    assert compute_powers(ids, 2, 1) == dict.fromkeys(ids, 1)
    assert compute_powers(ids, 2, 2) == {**dict.fromkeys(ids, 1), b"n3": 2}
    faults = Faults(
        drop_rate=0.05, heal_ms=500, byzantine=("double_vote",), crashes=2, reweigh_at=2
    )
    for seed in range(10):
        result = run_simulation(seed, validators=4, heights=4, faults=faults)
        assert result.ok, result.message


def test_more_byzantine_validators_than_f_are_refused() -> None:
    with pytest.raises(ValueError, match="exceed f"):
        run_simulation(1, validators=6, faults=Faults(byzantine=("silent", "silent")))


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


def vote(kind: str, who: bytes, block: bytes, round_: int = 0) -> Vote:
    return sign_vote(who, Vote(kind, 1, round_, block, who, b""))  # type: ignore[arg-type]


def test_invalid_double_sign_of_an_honest_node_is_caught() -> None:
    checker = SafetyChecker([b"n1"], lambda block: True)
    checker.on_broadcast(b"n1", vote("prevote", b"n1", b"\xaa" * 32))
    checker.on_broadcast(b"n1", vote("prevote", b"n1", b"\xaa" * 32))
    checker.on_broadcast(b"n1", vote("precommit", b"n1", NIL))
    assert checker.failure is None
    checker.on_broadcast(b"n1", vote("prevote", b"n1", NIL))
    assert checker.failure is not None and "double-signed a prevote" in checker.failure


def test_invalid_prevote_against_the_lock_is_caught() -> None:
    a, b = b"\xaa" * 32, b"\xbb" * 32
    checker = SafetyChecker([b"n1"], lambda block: True)
    checker.on_broadcast(b"n1", vote("precommit", b"n1", a, round_=1))
    # Its lock (A, 1) allows A, nil, and B re-proposed with a proof-of-lock from round 1 on.
    checker.on_broadcast(b"n1", vote("prevote", b"n1", a, round_=2))
    checker.on_broadcast(b"n1", vote("prevote", b"n1", NIL, round_=3))
    checker.on_proposal(Proposal(1, 4, b, 1, b"n0", b""))
    checker.on_broadcast(b"n1", vote("prevote", b"n1", b, round_=4))
    assert checker.failure is None
    checker.on_proposal(Proposal(1, 5, b, 0, b"n0", b""))
    checker.on_broadcast(b"n1", vote("prevote", b"n1", b, round_=5))
    assert checker.failure is not None and "locked on" in checker.failure


def test_byzantine_double_sign_is_not_a_failure() -> None:
    checker = SafetyChecker([b"n1"], lambda block: True)
    checker.on_broadcast(b"n0", vote("prevote", b"n0", b"\xaa" * 32))
    checker.on_broadcast(b"n0", vote("prevote", b"n0", NIL))
    assert checker.failure is None


def test_invalid_disagreement_and_invalid_blocks_are_caught() -> None:
    checker = SafetyChecker([b"n1", b"n2"], lambda block: block != b"bad")
    checker.on_decided(b"n1", 1, b"good")
    checker.on_decided(b"n2", 1, b"good")
    assert checker.failure is None
    checker.on_decided(b"n2", 2, b"bad")
    assert checker.failure is not None and "invalid block" in checker.failure
    checker = SafetyChecker([b"n1", b"n2"], lambda block: True)
    checker.on_decided(b"n1", 1, b"one")
    checker.on_decided(b"n2", 1, b"two")
    assert checker.failure is not None and "different blocks" in checker.failure


def test_invalid_commit_certificates_are_refused_by_block_sync() -> None:
    powers = dict.fromkeys([b"n0", b"n1", b"n2", b"n3"], 1)
    block = b"\xaa" * 32
    message = vote_sign_bytes(CHAIN_ID, 1, 0, block)

    def signed_by(*who: bytes) -> Commit:
        sigs = tuple(CommitSignature(v, fake_sign(v, message)) for v in who)
        return Commit(1, 0, block, sigs)

    assert verify_commit(signed_by(b"n0", b"n1", b"n2"), powers)
    assert not verify_commit(signed_by(b"n0", b"n1"), powers)
    assert not verify_commit(signed_by(b"n0", b"n1", b"n1"), powers)
    assert not verify_commit(signed_by(b"n0", b"n1", b"x9"), powers)
    forged = Commit(
        1, 0, block, (*signed_by(b"n0", b"n1").signatures, CommitSignature(b"n2", b"x"))
    )
    assert not verify_commit(forged, powers)
    assert not verify_commit(Commit(1, 0, NIL, signed_by(b"n0", b"n1", b"n2").signatures), powers)
