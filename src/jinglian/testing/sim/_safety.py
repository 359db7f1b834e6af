"""The safety properties the simulation checks after every event.

- Agreement: no two honest nodes decided different blocks at a height.
- Validity: every block an honest node decided (or adopted by block sync) is
  one some proposer built and honest nodes judge valid.
- No double-signing: no honest node ever sent two different proposals, or two
  different votes of one kind, for the same (height, round), counted from what
  it broadcast over its whole life, restarts included.

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

    def on_broadcast(self, node: bytes, message: Proposal | Vote) -> None:
        """``node`` sent its own ``message`` (a first send or a re-send)."""
        if node not in self._honest:
            return
        kind = "proposal" if isinstance(message, Proposal) else message.kind
        earlier = self._signed.setdefault((node, message.height, message.round, kind), message)
        if earlier != message:
            self._fail(
                f"safety: honest node {node!r} double-signed a {kind} at height "
                f"{message.height} round {message.round}: {_describe(earlier)} then "
                f"{_describe(message)}"
            )

    def _fail(self, what: str) -> None:
        if self.failure is None:
            self.failure = what


def _describe(message: Proposal | Vote) -> str:
    block = message.block_hash.hex()[:12] or "nil"
    if isinstance(message, Proposal):
        return f"proposal of {block} (pol_round {message.pol_round})"
    return f"{message.kind} for {block}"
