"""What travels between simulated nodes: signed messages, synced blocks, and their checks.

Signatures are keyed hashes (``fake_sign``), so only the simulation can make
them and any node can check them. ``SyncedBlock`` is block sync reduced to what
consensus needs: a decided block's hash with its commit certificate, which a
lagging node adopts only if ``verify_commit`` holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from jinglian.types import Commit
from jinglian.types.block import vote_sign_bytes
from jinglian.types.consensus import Proposal, Vote, proposal_sign_bytes, vote_sign_bytes_of

__all__ = [
    "CHAIN_ID",
    "Message",
    "SyncedBlock",
    "fake_sign",
    "fake_verify",
    "get_signer",
    "sign_proposal",
    "sign_vote",
    "verify_commit",
]

CHAIN_ID = "sim"


@dataclass(frozen=True, slots=True)
class SyncedBlock:
    """A peer's decided block, as block sync hands it to a node that lacks it."""

    height: int
    """Height of the block."""
    block_hash: bytes
    """Hash of the block."""
    commit: Commit
    """Its commit certificate; adopted only if it verifies."""


Message: TypeAlias = Proposal | Vote | SyncedBlock
"""Anything one simulated node sends another."""


def fake_sign(validator: bytes, message: bytes) -> bytes:
    """A keyed hash standing in for a signature (only the simulation's nodes make them)."""
    return hashlib.sha256(validator + message).digest()


def fake_verify(validator: bytes, message: bytes, signature: bytes) -> bool:
    """Check a ``fake_sign`` signature."""
    return signature == fake_sign(validator, message)


def get_signer(validator: bytes) -> Callable[[bytes], bytes]:
    """The ``sign`` callable a validator's ``Tbft`` gets."""
    return lambda message: fake_sign(validator, message)


def sign_proposal(signer: bytes, proposal: Proposal) -> Proposal:
    """``proposal`` with ``signer``'s signature over its sign bytes."""
    signature = fake_sign(signer, proposal_sign_bytes(CHAIN_ID, proposal))
    return Proposal(
        proposal.height,
        proposal.round,
        proposal.block_hash,
        proposal.pol_round,
        proposal.proposer,
        signature,
    )


def sign_vote(signer: bytes, vote: Vote) -> Vote:
    """``vote`` with ``signer``'s signature over its sign bytes."""
    signature = fake_sign(signer, vote_sign_bytes_of(CHAIN_ID, vote))
    return Vote(vote.kind, vote.height, vote.round, vote.block_hash, vote.validator, signature)


def verify_commit(commit: Commit, validators: Mapping[bytes, int]) -> bool:
    """True if distinct validators holding over 2/3 of the power signed the commit's precommit."""
    if not commit.block_hash:
        return False
    message = vote_sign_bytes(CHAIN_ID, commit.height, commit.round, commit.block_hash)
    signers: set[bytes] = set()
    for signature in commit.signatures:
        if signature.validator not in validators or signature.validator in signers:
            return False
        if not fake_verify(signature.validator, message, signature.signature):
            return False
        signers.add(signature.validator)
    power = sum(validators[v] for v in signers)
    return power * 3 > sum(validators.values()) * 2
