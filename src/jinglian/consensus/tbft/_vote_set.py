"""Counting the votes of one kind in one round of one height.

A ``VoteSet`` keeps at most one vote per validator (the first it sees), so it
is bounded by the size of the validator set. A second vote from the same
validator for a different block hash is equivocation: the set returns both as
``Equivocation`` evidence (once per validator) and also counts the second vote
toward its own block's tally (never toward "any"), because an equivocator's
two signed votes may both be honest nodes' only way to reach a quorum that
others already reached; quorum intersection still holds, since a Byzantine
validator can always show each node the vote it likes. At most
``VOTES_PER_VALIDATOR_MAX`` votes of one validator are kept. Signatures are the caller's business: only verified votes may
be added. Power thresholds follow the paper: "2f+1" means more than two thirds
of the total voting power, "f+1" more than one third.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jinglian.types.consensus import Vote, VoteKind

__all__ = ["VOTES_PER_VALIDATOR_MAX", "Equivocation", "VoteSet"]

VOTES_PER_VALIDATOR_MAX = 2
"""The first vote and one conflicting vote; later conflicting votes are ignored."""


@dataclass(frozen=True, slots=True)
class Equivocation:
    """Two signed votes of one validator for different blocks in the same step."""

    first: Vote
    """The vote counted."""
    second: Vote
    """The conflicting vote, not counted."""


class VoteSet:
    """The votes of one kind for one (height, round)."""

    def __init__(
        self, height: int, round_: int, kind: VoteKind, validators: Mapping[bytes, int]
    ) -> None:
        assert all(power > 0 for power in validators.values()), "voting power must be positive"
        self.height = height
        self.round = round_
        self.kind: VoteKind = kind
        self._powers = dict(validators)
        self._total_power = sum(self._powers.values())
        self._votes: dict[bytes, Vote] = {}
        self._by_block: dict[bytes, dict[bytes, Vote]] = {}
        self._power_by_block: dict[bytes, int] = {}
        self._voted_power = 0
        self._equivocators: set[bytes] = set()

    def add(self, vote: Vote) -> Equivocation | None:
        """Count a verified vote; return evidence if it conflicts with the validator's earlier vote.

        Votes for another height, round or kind, from non-validators, and
        duplicates are ignored.
        """
        if (vote.height, vote.round, vote.kind) != (self.height, self.round, self.kind):
            return None
        power = self._powers.get(vote.validator)
        if power is None:
            return None
        earlier = self._votes.get(vote.validator)
        if earlier is None:
            self._votes[vote.validator] = vote
            self._count_for_block(vote, power)
            self._voted_power += power
            return None
        if earlier.block_hash == vote.block_hash or vote.validator in self._equivocators:
            return None
        self._equivocators.add(vote.validator)
        self._count_for_block(vote, power)
        return Equivocation(first=earlier, second=vote)

    def _count_for_block(self, vote: Vote, power: int) -> None:
        self._by_block.setdefault(vote.block_hash, {})[vote.validator] = vote
        self._power_by_block[vote.block_hash] = self._power_by_block.get(vote.block_hash, 0) + power

    def get_vote(self, validator: bytes) -> Vote | None:
        """The counted vote of ``validator``, if any."""
        return self._votes.get(validator)

    def get_votes_for(self, block_hash: bytes) -> list[Vote]:
        """The counted votes for ``block_hash``, sorted by validator id."""
        votes = self._by_block.get(block_hash, {})
        return [votes[validator] for validator in sorted(votes)]

    def get_power_for(self, block_hash: bytes) -> int:
        """Total power of the votes for ``block_hash``."""
        return self._power_by_block.get(block_hash, 0)

    def has_two_thirds_majority(self) -> bytes | None:
        """The block hash (``NIL`` for nil) with more than 2/3 of the power, if any."""
        for block_hash, power in self._power_by_block.items():
            if self._is_over_two_thirds(power):
                return block_hash
        return None

    def has_two_thirds_for(self, block_hash: bytes) -> bool:
        """True if ``block_hash`` has more than 2/3 of the power."""
        return self._is_over_two_thirds(self.get_power_for(block_hash))

    def has_two_thirds_any(self) -> bool:
        """True if votes for anything hold more than 2/3 of the power."""
        return self._is_over_two_thirds(self._voted_power)

    def has_one_third_any(self) -> bool:
        """True if votes for anything hold more than 1/3 of the power (f+1)."""
        return self._voted_power * 3 > self._total_power

    def __len__(self) -> int:
        return len(self._votes)

    def _is_over_two_thirds(self, power: int) -> bool:
        return power * 3 > self._total_power * 2
