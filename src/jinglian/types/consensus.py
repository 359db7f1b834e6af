"""Consensus messages: the proposal and the two kinds of vote.

A ``Proposal`` names the block a round's proposer offers (by hash; the block
itself travels separately) and the round of the proof-of-lock that justifies
re-proposing it (``pol_round``, -1 if none). A ``Vote`` is a prevote or a
precommit for a block hash, or for nil (an empty hash). Both are frozen values
with one canonical encoding; ``decode_*`` checks every type and size and raises
``DecodeError`` (or ``TooLarge``) for anything else.

A vote's signature covers ``vote_sign_bytes`` of ``jinglian.types.block``, so a
precommit signature is exactly a ``CommitSignature``. A proposal's signature
covers ``proposal_sign_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from jinglian.types import codec
from jinglian.types.block import HASH_BYTES, vote_sign_bytes
from jinglian.types.errors import DecodeError

__all__ = [
    "MESSAGE_BYTES_MAX",
    "NIL",
    "ROUND_MAX",
    "SIGNATURE_BYTES_MAX",
    "VALIDATOR_ID_BYTES_MAX",
    "VOTE_KINDS",
    "Proposal",
    "Vote",
    "VoteKind",
    "decode_proposal",
    "decode_vote",
    "encode_proposal",
    "encode_vote",
    "proposal_sign_bytes",
    "vote_sign_bytes_of",
]

VoteKind = Literal["prevote", "precommit"]
VOTE_KINDS: tuple[VoteKind, ...] = ("prevote", "precommit")
NIL = b""
"""The block hash of a vote for nil."""
VALIDATOR_ID_BYTES_MAX = 64
"""Upper bound on a validator id (a certificate id)."""
SIGNATURE_BYTES_MAX = 256
"""Upper bound on a signature (Ed25519, DER ECDSA P-256 and DER SM2 all fit)."""
ROUND_MAX = 1_000_000
"""Rounds beyond this are refused: no live chain gets near it."""
MESSAGE_BYTES_MAX = 1024
"""Upper bound on an encoded proposal or vote."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposer's offer of a block for one round."""

    height: int
    """Height being decided (1 for the first block)."""
    round: int
    """Round of the proposal, from 0."""
    block_hash: bytes
    """Hash of the proposed block header (32 bytes)."""
    pol_round: int
    """Round of the proof-of-lock for this block, or -1 for a fresh block."""
    proposer: bytes
    """Validator id of the proposer."""
    signature: bytes
    """Proposer's signature over ``proposal_sign_bytes``."""


@dataclass(frozen=True, slots=True)
class Vote:
    """A prevote or precommit for a block hash or for nil."""

    kind: VoteKind
    """``"prevote"`` or ``"precommit"``."""
    height: int
    """Height being decided."""
    round: int
    """Round the vote belongs to."""
    block_hash: bytes
    """Hash of the block voted for (32 bytes), or ``NIL`` (empty)."""
    validator: bytes
    """Validator id of the voter."""
    signature: bytes
    """Voter's signature over ``vote_sign_bytes``."""

    @property
    def is_nil(self) -> bool:
        """True for a vote for nil."""
        return self.block_hash == NIL


def proposal_sign_bytes(chain_id: str, proposal: Proposal) -> bytes:
    """The bytes a proposer signs."""
    return codec.encode_trusted(
        {
            "type": "proposal",
            "chain_id": chain_id,
            "height": proposal.height,
            "round": proposal.round,
            "block": proposal.block_hash,
            "pol_round": proposal.pol_round,
        }
    )


def vote_sign_bytes_of(chain_id: str, vote: Vote) -> bytes:
    """The bytes a voter signs (for a precommit, exactly a commit signature's bytes)."""
    return vote_sign_bytes(chain_id, vote.height, vote.round, vote.block_hash, vote.kind)


def encode_proposal(proposal: Proposal) -> bytes:
    """Canonical bytes of a proposal."""
    return codec.encode_trusted(
        {
            "type": "proposal",
            "height": proposal.height,
            "round": proposal.round,
            "block": proposal.block_hash,
            "pol_round": proposal.pol_round,
            "proposer": proposal.proposer,
            "sig": proposal.signature,
        }
    )


def encode_vote(vote: Vote) -> bytes:
    """Canonical bytes of a vote."""
    return codec.encode_trusted(
        {
            "type": vote.kind,
            "height": vote.height,
            "round": vote.round,
            "block": vote.block_hash,
            "validator": vote.validator,
            "sig": vote.signature,
        }
    )


_PROPOSAL_TYPES: dict[str, type] = {
    "type": str,
    "height": int,
    "round": int,
    "block": bytes,
    "pol_round": int,
    "proposer": bytes,
    "sig": bytes,
}
_VOTE_TYPES: dict[str, type] = {
    "type": str,
    "height": int,
    "round": int,
    "block": bytes,
    "validator": bytes,
    "sig": bytes,
}


def decode_proposal(data: bytes) -> Proposal:
    """Parse and check a proposal."""
    value = _decode_map(data, _PROPOSAL_TYPES, "proposal")
    if value["type"] != "proposal":
        raise DecodeError("message is not a proposal")
    _check_height_round(value["height"], value["round"])
    if not -1 <= value["pol_round"] < value["round"]:
        raise DecodeError("proposal pol_round must be -1 or an earlier round")
    if len(value["block"]) != HASH_BYTES:
        raise DecodeError(f"proposal block hash must be {HASH_BYTES} bytes")
    _check_signer(value["proposer"], value["sig"])
    return Proposal(
        height=value["height"],
        round=value["round"],
        block_hash=value["block"],
        pol_round=value["pol_round"],
        proposer=value["proposer"],
        signature=value["sig"],
    )


def decode_vote(data: bytes) -> Vote:
    """Parse and check a vote."""
    value = _decode_map(data, _VOTE_TYPES, "vote")
    kind = value["type"]
    if kind not in VOTE_KINDS:
        raise DecodeError("vote type must be 'prevote' or 'precommit'")
    _check_height_round(value["height"], value["round"])
    if len(value["block"]) not in (0, HASH_BYTES):
        raise DecodeError(f"vote block hash must be {HASH_BYTES} bytes or empty (nil)")
    _check_signer(value["validator"], value["sig"])
    return Vote(
        kind=kind,
        height=value["height"],
        round=value["round"],
        block_hash=value["block"],
        validator=value["validator"],
        signature=value["sig"],
    )


def _decode_map(data: bytes, types: dict[str, type], what: str) -> dict[str, Any]:
    value = codec.decode(data, MESSAGE_BYTES_MAX)
    if not isinstance(value, dict) or set(value) != set(types):
        raise DecodeError(f"{what} fields are missing or unexpected")
    for name, kind in types.items():
        if not isinstance(value[name], kind) or isinstance(value[name], bool):
            raise DecodeError(f"{what} field {name!r} must be {kind.__name__}")
    return value


def _check_height_round(height: int, round_: int) -> None:
    if height < 1:
        raise DecodeError("height must be at least 1")
    if not 0 <= round_ <= ROUND_MAX:
        raise DecodeError(f"round must lie in 0..{ROUND_MAX}")


def _check_signer(signer: bytes, signature: bytes) -> None:
    if not 0 < len(signer) <= VALIDATOR_ID_BYTES_MAX:
        raise DecodeError(f"validator id must be 1..{VALIDATOR_ID_BYTES_MAX} bytes")
    if len(signature) > SIGNATURE_BYTES_MAX:
        raise DecodeError(f"signature is longer than {SIGNATURE_BYTES_MAX} bytes")
