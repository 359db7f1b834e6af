"""What a Byzantine validator sends in place of the message its own ``Tbft`` chose.

``compute_deliveries`` turns one outgoing message of a validator into the
(peer, message) pairs that actually leave it, by its ``Behaviour``. Honest
validators (and ``invalid_blocks``, whose lie is in the blocks it builds) send
the message to every peer; ``silent`` ones never get here. Byzantine messages
that are correctly signed by the Byzantine validator itself are real votes of
it; everything else (bad signatures, strangers, malformed fields, forged
certificates) must be dropped by honest nodes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace

from jinglian.consensus.tbft import ROUNDS_AHEAD_MAX
from jinglian.testing.sim._faults import Behaviour
from jinglian.testing.sim._wire import Message, SyncedBlock, sign_proposal, sign_vote
from jinglian.types import Commit, CommitSignature
from jinglian.types.consensus import NIL, Proposal, Vote

__all__ = ["Build", "compute_deliveries"]

Build = Callable[[int, bytes, int, int], bytes]
"""``build(height, proposer, round, variant) -> block hash``: a block the cluster counts as built."""

_GARBAGE_KINDS = 9


def compute_deliveries(
    behaviour: Behaviour | None,
    src: bytes,
    message: Proposal | Vote,
    peers: Sequence[bytes],
    rng: random.Random,
    build: Build,
) -> list[tuple[bytes, Message]]:
    """The (peer, message) pairs ``src`` sends for ``message``."""
    if behaviour == "equivocate":
        twin = _equivocate(src, message, build)
        return [(dst, message if i % 2 == 0 else twin) for i, dst in enumerate(peers)]
    if behaviour == "double_vote" and isinstance(message, Vote):
        other = _double_vote(src, message, rng, build)
        return [(dst, message if rng.random() < 0.5 else other) for dst in peers]
    sent: list[tuple[bytes, Message]] = [(dst, message) for dst in peers]
    if behaviour == "garbage":
        sent += [(dst, make_garbage(src, message, peers, rng)) for dst in peers]
    return sent


def _equivocate(src: bytes, message: Proposal | Vote, build: Build) -> Proposal | Vote:
    """A second proposal (a fresh block) or a second vote (nil for a block, a block for nil)."""
    if isinstance(message, Proposal):
        block = build(message.height, src, message.round, 1)
        return sign_proposal(src, Proposal(message.height, message.round, block, -1, src, b""))
    block = build(message.height, src, message.round, 1) if message.is_nil else NIL
    return sign_vote(src, replace(message, block_hash=block))


def _double_vote(src: bytes, vote: Vote, rng: random.Random, build: Build) -> Vote:
    """Another vote of the same step: nil or another block for a block, a block for nil."""
    other = build(vote.height, src, vote.round, 2)
    if not vote.is_nil and rng.random() < 0.5:
        other = NIL
    return sign_vote(src, replace(vote, block_hash=other))


def make_garbage(
    src: bytes, message: Proposal | Vote, peers: Sequence[bytes], rng: random.Random
) -> Message:
    """One message an honest node must drop or ignore, made from ``message``."""
    choice = rng.randrange(_GARBAGE_KINDS)
    if choice == 0:
        return replace(message, signature=bytes(32))
    if choice == 1:
        height = max(0, message.height + rng.choice((-1, 1, 2, 1000)))
        return _resign(src, replace(message, height=height))
    if choice == 2:
        round_ = message.round + ROUNDS_AHEAD_MAX + rng.randint(1, 10_000)
        return _resign(src, replace(message, round=round_))
    if choice == 3:
        stranger = b"x%d" % rng.randrange(100)
        return _resign(stranger, _with_signer(message, stranger))
    if choice == 4:
        return _resign(src, _with_signer(message, rng.choice(peers)))
    if choice == 5:
        return _resign(src, replace(message, block_hash=b"\x01" * 5))
    if choice == 6 and isinstance(message, Proposal):
        return _resign(src, replace(message, pol_round=message.round))
    if choice == 7:
        return _resign(src, replace(message, round=message.round + rng.randint(1, 3)))
    return _forged_commit(message, peers, rng)


def _forged_commit(message: Proposal | Vote, peers: Sequence[bytes], rng: random.Random) -> Message:
    """A "decided block" whose certificate is signed by nobody it names (or by too few)."""
    block = rng.randbytes(32)
    signers = sorted(peers)[: rng.randint(0, len(peers))]
    signatures = tuple(CommitSignature(v, rng.randbytes(32)) for v in signers)
    return SyncedBlock(message.height, block, Commit(message.height, 0, block, signatures))


def _with_signer(message: Proposal | Vote, signer: bytes) -> Proposal | Vote:
    if isinstance(message, Proposal):
        return replace(message, proposer=signer)
    return replace(message, validator=signer)


def _resign(signer: bytes, message: Proposal | Vote) -> Proposal | Vote:
    if isinstance(message, Proposal):
        return sign_proposal(signer, message)
    return sign_vote(signer, message)
