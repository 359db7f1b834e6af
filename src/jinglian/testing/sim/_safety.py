"""The safety properties the simulation checks after every event.

- Agreement: no two honest nodes decided different blocks at a height.
- Validity: every block an honest node decided (or adopted by block sync) is
  one some proposer built and honest nodes judge valid.
- No double-signing: no honest node ever sent two different proposals, or two
  different votes of one kind, for the same (height, round), counted from what
  it broadcast over its whole life, restarts included.
- Locking (lines 22 and 28): an honest node that precommitted block A in round
  r (its lock is then at least that) prevotes another block B in a later round
  r' only for a proposal of B in r' whose proof-of-lock round is at least r.
  Its lock is read from its own precommits, restarts included, so a restart
  that forgets the lock is caught before it leads to disagreement.

The cluster reports decisions and broadcasts as they happen; ``failure`` holds
the first violation found, and the cluster stops at it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from jinglian.types.consensus import Proposal, Vote

__all__ = ["SafetyChecker"]


class SafetyChecker:
    """Agreement, validity and double-signing of the honest nodes."""

    def __init__(self, honest: Collection[bytes], is_valid: Callable[[bytes], bool]) -> None:
        self.failure: str | None = None
        """The first violation found, if any."""
        self._honest = frozenset(honest)
        self._is_valid = is_valid
        self._agreed: dict[int, tuple[bytes, bytes]] = {}
        self._signed: dict[tuple[bytes, int, int, str], Proposal | Vote] = {}
        self._locks: dict[tuple[bytes, int], tuple[bytes, int]] = {}
        self._proposals: set[tuple[int, int, bytes, int]] = set()

    def on_decided(self, node: bytes, height: int, block: bytes) -> None:
        """``node`` decided (or adopted) ``block`` at ``height``."""
        if node not in self._honest:
            return
        first, block_before = self._agreed.setdefault(height, (node, block))
        if block_before != block:
            self._fail(
                f"safety: honest nodes {first!r} and {node!r} decided different blocks "
                f"at height {height}"
            )
        elif not self._is_valid(block):
            self._fail(f"safety: honest node {node!r} decided an invalid block at height {height}")

    def on_proposal(self, proposal: Proposal) -> None:
        """Some node sent or received ``proposal`` (a proof-of-lock may come with it)."""
        key = (proposal.height, proposal.round, proposal.block_hash, proposal.pol_round)
        self._proposals.add(key)

    def on_broadcast(self, node: bytes, message: Proposal | Vote) -> None:
        """``node`` sent its own ``message`` (a first send or a re-send)."""
        if isinstance(message, Proposal):
            self.on_proposal(message)
        if node not in self._honest:
            return
        self._check_signed_once(node, message)
        if isinstance(message, Vote) and not message.is_nil:
            self._check_lock(node, message)

    def _check_signed_once(self, node: bytes, message: Proposal | Vote) -> None:
        kind = "proposal" if isinstance(message, Proposal) else message.kind
        earlier = self._signed.setdefault((node, message.height, message.round, kind), message)
        if earlier != message:
            self._fail(
                f"safety: honest node {node!r} double-signed a {kind} at height "
                f"{message.height} round {message.round}: {_describe(earlier)} then "
                f"{_describe(message)}"
            )

    def _check_lock(self, node: bytes, vote: Vote) -> None:
        lock = self._locks.get((node, vote.height))
        if vote.kind == "precommit":
            if lock is None or vote.round > lock[1]:
                self._locks[(node, vote.height)] = (vote.block_hash, vote.round)
            return
        if lock is None or vote.block_hash == lock[0] or vote.round <= lock[1]:
            return
        proofs = range(lock[1], vote.round)
        key = (vote.height, vote.round, vote.block_hash)
        if not any((*key, pol_round) in self._proposals for pol_round in proofs):
            self._fail(
                f"safety: honest node {node!r} locked on {lock[0].hex()[:12]} in round {lock[1]} "
                f"of height {vote.height} prevoted {vote.block_hash.hex()[:12]} in round "
                f"{vote.round} without a proposal whose proof-of-lock round is {lock[1]} or later"
            )

    def _fail(self, what: str) -> None:
        if self.failure is None:
            self.failure = what


def _describe(message: Proposal | Vote) -> str:
    block = message.block_hash.hex()[:12] or "nil"
    if isinstance(message, Proposal):
        return f"proposal of {block} (pol_round {message.pol_round})"
    return f"{message.kind} for {block}"
