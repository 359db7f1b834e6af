"""``python -m jinglian.testing.byzantine NODE_DIR``: run a node that lies, for tests only.

The node runs as usual except that every vote it signs is followed by a second
vote, signed just as validly, for a different block in the same height, round
and step: the classic equivocation. Nothing in a normal node can turn this on;
only this test module replaces the replica's broadcast, in its own process.
Honest validators must stay safe and put the evidence on chain
(``consensus.report_misbehaviour``).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from jinglian.network.messages import MessageType, encode_vote_message
from jinglian.node.replica import Replica
from jinglian.node.run import run_node
from jinglian.types.consensus import Proposal, Vote, vote_sign_bytes_of

__all__ = ["equivocating_broadcast", "main"]

_honest_broadcast = Replica.broadcast


def equivocating_broadcast(self: Replica, message: Proposal | Vote) -> None:
    """Send the honest message, then a conflicting vote for a made-up block."""
    _honest_broadcast(self, message)
    if not isinstance(message, Vote):
        return
    twin_hash = hashlib.sha256(b"equivocation" + message.block_hash).digest()
    unsigned = Vote(message.kind, message.height, message.round, twin_hash, message.validator, b"")
    chain_id = self.node.genesis.chain_id
    signature = self.node.key.sign(vote_sign_bytes_of(chain_id, unsigned))
    twin = Vote(
        message.kind, message.height, message.round, twin_hash, message.validator, signature
    )
    self.network.broadcast(MessageType.VOTE, encode_vote_message(twin))


def main(argv: list[str]) -> int:
    """Run the node of ``argv[0]`` with equivocating votes until interrupted."""
    if len(argv) != 1:
        print("usage: python -m jinglian.testing.byzantine NODE_DIR", file=sys.stderr)
        return 2
    Replica.broadcast = equivocating_broadcast  # type: ignore[method-assign]
    run_node(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
