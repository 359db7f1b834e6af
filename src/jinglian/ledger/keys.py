"""Key layout of the ledger's single keyspace.

Every record the ledger keeps sits in one KV under a one-byte prefix, so that a
block, its state changes and its indexes are written in one atomic batch.
Heights are 8-byte big-endian so that keys sort by height.

=========  ==============================================  =======================
prefix     key                                             value
=========  ==============================================  =======================
``M``      ``head``                                        head record (codec map)
``G``      ``genesis``                                     genesis document bytes
``b``      height                                          encoded block
``c``      height                                          encoded commit
``r``      height                                          list of encoded receipts
``H``      block hash                                      height
``t``      tx id                                           ``[height, index]``
``e``      len+contract, len+topic, height, tx, event      empty
``k``      len+state key, height, tx index                 tx id
``s``      state key                                       latest value (flat table)
``n``/``v``  state tree nodes and values (``storage``)      content-addressed
=========  ==============================================  =======================
"""

from __future__ import annotations

import struct

__all__ = [
    "CERTS_CONTRACT",
    "CONFIG_CONTRACT",
    "FLAT_STATE",
    "HEAD",
    "block_hash_key",
    "block_key",
    "commit_key",
    "event_key",
    "event_prefix",
    "flat_state_key",
    "genesis_key",
    "height_bytes",
    "key_history_key",
    "key_history_prefix",
    "receipts_key",
    "state_key",
    "tx_key",
]

HEAD = b"Mhead"
CONFIG_CONTRACT = "chain_config"
"""System namespace holding the chain configuration in state."""
CERTS_CONTRACT = "identity"
"""System namespace holding registered certificates (``cert:<hex id>``) and revocations (``revoked:<hex id>``)."""
FLAT_STATE = b"s"


def height_bytes(height: int) -> bytes:
    """Fixed-width big-endian height, so keys sort by height."""
    return struct.pack(">Q", height)


def genesis_key() -> bytes:
    """Where the genesis document is kept."""
    return b"Ggenesis"


def block_key(height: int) -> bytes:
    """Encoded block at ``height``."""
    return b"b" + height_bytes(height)


def commit_key(height: int) -> bytes:
    """Commit certificate of the block at ``height``."""
    return b"c" + height_bytes(height)


def receipts_key(height: int) -> bytes:
    """Receipts of the block at ``height``."""
    return b"r" + height_bytes(height)


def block_hash_key(block_hash: bytes) -> bytes:
    """Height of the block with this hash."""
    return b"H" + block_hash


def tx_key(tx_id: bytes) -> bytes:
    """Location of a committed transaction."""
    return b"t" + tx_id


def _sized(text: bytes) -> bytes:
    return struct.pack(">H", len(text)) + text


def event_prefix(contract: str, topic: str | None = None) -> bytes:
    """Prefix of the event index for a contract, optionally narrowed to a topic."""
    prefix = b"e" + _sized(contract.encode())
    return prefix if topic is None else prefix + _sized(topic.encode())


def event_key(contract: str, topic: str, height: int, tx_index: int, event_index: int) -> bytes:
    """One event index entry."""
    return (
        event_prefix(contract, topic)
        + height_bytes(height)
        + struct.pack(">IH", tx_index, event_index)
    )


def key_history_prefix(key: bytes) -> bytes:
    """Prefix of the change history of one state key."""
    return b"k" + _sized(key)


def key_history_key(key: bytes, height: int, tx_index: int) -> bytes:
    """One change of a state key."""
    return key_history_prefix(key) + height_bytes(height) + struct.pack(">I", tx_index)


def flat_state_key(key: bytes) -> bytes:
    """Latest value of a state key."""
    return FLAT_STATE + key


def state_key(contract: str, key: str) -> bytes:
    """Raw state key of a contract's key (contract names never hold NUL)."""
    return contract.encode() + b"\x00" + key.encode()
