"""Who was in charge at a height, proven from genesis forward; and proof a block is buried.

A receipt or record proven offline must be checked against the validator set
that the chain's own history put in charge at its height. The genesis file
names the first set. A change committed in block ``h`` applies from block
``h + 2`` (ADR 0013), and the chain config document is stored at the state key
``chain_config`` / ``config``, so each change is proven by:

- the header of block ``h`` and its commit, signed by the set in force at ``h``
  (itself proven by the earlier changes);
- the stored config bytes and their state proof against that header's
  ``state_root``.

``verify_validator_changes`` walks such entries oldest first and returns a
``ValidatorHistory``; a forged entry fails its commit or its state proof, and a
missing one shows as a block naming a validator set (``validators_hash``)
other than the one the history gives.

``verify_descendant`` checks a later *checkpoint*: headers linked by
``prev_hash`` from a proven block to a later one, the last with its commit, so
a verifier sees how deep the first block is buried.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinglian.client.records import field, parse_header
from jinglian.client.verify import VerifiedBlock, check_state_read, verify_block_evidence
from jinglian.crypto import get_suite
from jinglian.types import ChainConfig, codec, encode_header
from jinglian.types.config import parse_chain_config
from jinglian.types.errors import ConfigError, DecodeError, InvalidBlock, JinglianError
from jinglian.types.validators import ValidatorSet, validator_set_of

__all__ = [
    "CHANGES_MAX",
    "CHECKPOINT_HEADERS_MAX",
    "CONFIG_STATE_KEY",
    "VALIDATOR_CHANGE_DELAY",
    "ValidatorHistory",
    "verify_descendant",
    "verify_validator_changes",
]

CONFIG_STATE_KEY = b"chain_config\x00config"
"""Raw state key of the chain config document."""

VALIDATOR_CHANGE_DELAY = 2
"""A validator-set change committed in block h applies from block h + 2."""

CHANGES_MAX = 1024
"""Most validator-set changes a verifier walks."""

CHECKPOINT_HEADERS_MAX = 64
"""Most headers a checkpoint links."""

CONFIG_BYTES_MAX = 4 * 1024 * 1024
"""Largest config document a verifier decodes."""


@dataclass(frozen=True, slots=True)
class ValidatorHistory:
    """The chain config in force at each height: genesis, then each proven change."""

    genesis: ChainConfig
    """The genesis config, in force from height 1."""
    changes: tuple[tuple[int, ChainConfig], ...] = ()
    """``(first height in force, config)``, heights increasing."""

    def config_at(self, height: int) -> ChainConfig:
        """The config whose validator set signs block ``height``."""
        starts = [start for start, _ in self.changes]
        position = bisect.bisect_right(starts, height)
        return self.genesis if position == 0 else self.changes[position - 1][1]

    def set_at(self, height: int) -> ValidatorSet:
        """The validator set that must sign block ``height``."""
        return validator_set_of(self.config_at(height))


def verify_validator_changes(entries: object, genesis: ChainConfig) -> ValidatorHistory:
    """Prove each change entry against the set the earlier ones put in charge.

    An entry is ``{"header", "commit", "value", "proof"}``: a rendered header
    and commit, the base64 config bytes stored after that block and their state
    proof. Raises ``DecodeError`` for a malformed list and ``InvalidBlock``
    naming the entry otherwise.
    """
    if not isinstance(entries, list):
        raise DecodeError("validator_changes must be a list")
    if len(entries) > CHANGES_MAX:
        raise DecodeError(f"validator_changes has {len(entries)} entries, over {CHANGES_MAX}")
    history = ValidatorHistory(genesis)
    for number, entry in enumerate(entries):
        try:
            history = _apply_change(history, entry, genesis)
        except JinglianError as exc:
            raise type(exc)(f"validator change {number}: {exc.message}") from exc
    return history


def _apply_change(
    history: ValidatorHistory, entry: object, genesis: ChainConfig
) -> ValidatorHistory:
    if not isinstance(entry, Mapping):
        raise DecodeError("must be an object")
    height = field(entry.get("header"), "height", int, "header")
    last = history.changes[-1][0] - VALIDATOR_CHANGE_DELAY if history.changes else 0
    if height <= last:
        raise InvalidBlock(f"height {height} is not after the previous change at {last}")
    block = verify_block_evidence(
        entry.get("header"), entry.get("commit"), genesis, history.set_at(height)
    )
    value = check_state_read(CONFIG_STATE_KEY, entry, block.header, genesis)
    if value is None:
        raise InvalidBlock("the state proof shows no chain config at that height")
    try:
        config = parse_chain_config(codec.decode(value, CONFIG_BYTES_MAX))
    except (ConfigError, DecodeError) as exc:
        raise InvalidBlock(f"the proven chain config cannot be read: {exc.message}") from exc
    if (config.chain_id, config.crypto) != (genesis.chain_id, genesis.crypto):
        raise InvalidBlock("the proven chain config is for another chain or suite")
    start = height + VALIDATOR_CHANGE_DELAY
    return ValidatorHistory(genesis, (*history.changes, (start, config)))


def verify_descendant(
    block: VerifiedBlock,
    checkpoint: object,
    genesis: ChainConfig,
    history: ValidatorHistory | None = None,
) -> VerifiedBlock:
    """Prove ``checkpoint`` (``{"headers": [...], "commit"}``) buries ``block``.

    The headers must run from ``block``'s height + 1 upward, each naming the
    previous one's hash; the commit must make the last one final. Returns the
    last block.
    """
    history = ValidatorHistory(genesis) if history is None else history
    headers = field(checkpoint, "headers", list, "checkpoint")
    if not 0 < len(headers) <= CHECKPOINT_HEADERS_MAX:
        raise DecodeError(
            f"a checkpoint links 1 to {CHECKPOINT_HEADERS_MAX} headers, not {len(headers)}"
        )
    hash_fn = get_suite(genesis.crypto).hash
    previous_hash, previous_height = block.block_hash, block.header.height
    for number, header_json in enumerate(headers[:-1]):
        header = parse_header(header_json)
        _check_link(header.height, header.prev_hash, previous_height, previous_hash, number)
        previous_hash, previous_height = hash_fn(encode_header(header)), header.height
    last_json: Any = headers[-1]
    last_header = parse_header(last_json)
    _check_link(
        last_header.height, last_header.prev_hash, previous_height, previous_hash, len(headers) - 1
    )
    assert isinstance(checkpoint, Mapping)
    return verify_block_evidence(
        last_json, checkpoint.get("commit"), genesis, history.set_at(last_header.height)
    )


def _check_link(
    height: int, prev_hash: bytes, previous_height: int, previous_hash: bytes, number: int
) -> None:
    if height != previous_height + 1:
        raise InvalidBlock(
            f"checkpoint header {number} is at height {height}, not {previous_height + 1}"
        )
    if prev_hash != previous_hash:
        raise InvalidBlock(
            f"checkpoint header {number} (height {height}) does not link to block {previous_height}"
        )
