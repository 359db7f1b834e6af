"""VoteSet: thresholds by power, duplicates, non-validators, equivocation."""

from __future__ import annotations

from jinglian.consensus.tbft._vote_set import Equivocation, VoteSet
from jinglian.types.consensus import NIL, Vote

A, B = b"\xaa" * 32, b"\xbb" * 32
FOUR = {b"v1": 1, b"v2": 1, b"v3": 1, b"v4": 1}


def vote(
    validator: bytes, block: bytes, kind: str = "prevote", height: int = 1, round_: int = 0
) -> Vote:
    return Vote(kind, height, round_, block, validator, b"sig")  # type: ignore[arg-type]


def test_two_thirds_majority_needs_more_than_two_thirds() -> None:
    votes = VoteSet(1, 0, "prevote", FOUR)
    votes.add(vote(b"v1", A))
    votes.add(vote(b"v2", A))
    assert votes.has_two_thirds_majority() is None
    assert not votes.has_two_thirds_any()
    assert votes.has_one_third_any()
    votes.add(vote(b"v3", A))
    assert votes.has_two_thirds_majority() == A
    assert votes.has_two_thirds_for(A)
    assert [v.validator for v in votes.get_votes_for(A)] == [b"v1", b"v2", b"v3"]


def test_nil_majority_is_empty_hash() -> None:
    votes = VoteSet(1, 0, "precommit", FOUR)
    for v in (b"v4", b"v2", b"v3"):
        votes.add(vote(v, NIL, "precommit"))
    assert votes.has_two_thirds_majority() == NIL


def test_split_votes_are_any_but_no_majority() -> None:
    votes = VoteSet(1, 0, "prevote", FOUR)
    votes.add(vote(b"v1", A))
    votes.add(vote(b"v2", B))
    votes.add(vote(b"v3", NIL))
    assert votes.has_two_thirds_any()
    assert votes.has_two_thirds_majority() is None


def test_one_third_needs_more_than_one_third() -> None:
    votes = VoteSet(1, 0, "prevote", {b"v1": 1, b"v2": 1, b"v3": 1})
    votes.add(vote(b"v1", A))
    assert not votes.has_one_third_any()
    votes.add(vote(b"v2", B))
    assert votes.has_one_third_any()


def test_power_is_weighted() -> None:
    votes = VoteSet(1, 0, "prevote", {b"big": 7, b"s1": 1, b"s2": 1, b"s3": 1})
    votes.add(vote(b"big", A))
    assert votes.has_two_thirds_majority() == A
    assert votes.get_power_for(A) == 7


def test_duplicates_and_strangers_are_ignored() -> None:
    votes = VoteSet(1, 0, "prevote", FOUR)
    assert votes.add(vote(b"v1", A)) is None
    assert votes.add(vote(b"v1", A)) is None
    assert votes.add(vote(b"stranger", A)) is None
    assert len(votes) == 1
    assert votes.get_power_for(A) == 1


def test_other_step_is_ignored() -> None:
    votes = VoteSet(1, 0, "prevote", FOUR)
    votes.add(vote(b"v1", A, kind="precommit"))
    votes.add(vote(b"v1", A, height=2))
    votes.add(vote(b"v1", A, round_=1))
    assert len(votes) == 0


def test_equivocation_is_reported_once_and_counted_for_its_block_only() -> None:
    votes = VoteSet(1, 0, "prevote", FOUR)
    first, second, third = vote(b"v1", A), vote(b"v1", B), vote(b"v1", NIL)
    votes.add(first)
    assert votes.add(second) == Equivocation(first=first, second=second)
    assert votes.add(third) is None
    assert votes.get_vote(b"v1") == first
    assert votes.get_power_for(B) == 1
    assert votes.get_power_for(NIL) == 0
    assert len(votes) == 1
    assert [v.validator for v in votes.get_votes_for(B)] == [b"v1"]


def test_size_is_bounded_by_validators() -> None:
    votes = VoteSet(1, 0, "prevote", FOUR)
    for i in range(100):
        votes.add(vote(b"v%d" % (i % 10), bytes([i]) * 32))
    assert len(votes) <= len(FOUR)
