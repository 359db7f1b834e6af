"""The validator set of a chain config, and checking a commit certificate against it.

A validator's id is the certificate id (chain hash of the DER) of its signing
certificate. The validator-set hash is ``H(canonical CBOR of [[id, power], ...])``
in config order. A commit is valid when distinct validators of the set holding
more than two thirds of the total voting power signed the precommit vote for
the block (``vote_sign_bytes``). Used by the ledger (header field), by offline
verification in the SDK, by chain re-verification and by consensus.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from jinglian.crypto import PublicKey, get_suite, load_certificate
from jinglian.types.block import Commit, vote_sign_bytes
from jinglian.types.config import ChainConfig, compute_validators_hash
from jinglian.types.errors import InvalidBlock

__all__ = [
    "Validator",
    "ValidatorSet",
    "validate_commit",
    "validate_commit_by_set",
    "validator_set_of",
]


@dataclass(frozen=True, slots=True)
class Validator:
    """One member of the validator set."""

    name: str
    """Node name from the config."""
    power: int
    """Voting power."""
    public_key: PublicKey
    """Key that signs its votes."""


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """Validators by id, their total power and the set's hash."""

    members: Mapping[bytes, Validator]
    """Validator id -> validator."""
    total_power: int
    """Sum of the voting powers."""
    hash: bytes
    """The validator-set hash a header carries."""


@functools.lru_cache(maxsize=32)
def validator_set_of(config: ChainConfig) -> ValidatorSet:
    """The validator set a chain config names (cached per config)."""
    members: dict[bytes, Validator] = {}
    pairs: list[tuple[bytes, int]] = []
    for info in config.validators:
        cert = load_certificate(info.cert.encode())
        members[cert.cert_id] = Validator(info.name, info.power, cert.public_key)
        pairs.append((cert.cert_id, info.power))
    total = sum(v.power for v in config.validators)
    return ValidatorSet(
        members, total, compute_validators_hash(get_suite(config.crypto).hash, pairs)
    )


def validate_commit(config: ChainConfig, commit: Commit) -> tuple[tuple[str, ...], int]:
    """Raise ``InvalidBlock`` unless more than 2/3 of the power signed; return signers and their power."""
    return validate_commit_by_set(validator_set_of(config), config.chain_id, commit)


def validate_commit_by_set(
    vset: ValidatorSet, chain_id: str, commit: Commit
) -> tuple[tuple[str, ...], int]:
    """``validate_commit`` against a given validator set (one in force after a change)."""
    message = vote_sign_bytes(chain_id, commit.height, commit.round, commit.block_hash)
    signers: list[str] = []
    power = 0
    for sig in commit.signatures:
        validator = vset.members.get(sig.validator)
        if validator is None:
            raise InvalidBlock(f"commit is signed by {sig.validator.hex()}, not a validator")
        if validator.name in signers:
            raise InvalidBlock(f"commit holds two signatures of validator {validator.name}")
        if not validator.public_key.verify(sig.signature, message):
            raise InvalidBlock(f"commit signature of validator {validator.name} does not verify")
        signers.append(validator.name)
        power += validator.power
    if 3 * power <= 2 * vset.total_power:
        raise InvalidBlock(
            f"commit is signed by {power} of {vset.total_power} voting power; more than 2/3 is needed"
        )
    return tuple(signers), power
