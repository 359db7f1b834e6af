"""jinglian.storage: the KV seam, its engines, and the authenticated state.

Everything jinglian persists goes through ``KV`` (an ordered byte keyspace
with atomic batches and snapshots): ``LmdbKV`` on disk, ``MemoryKV`` in tests
and simulation. Callers share one keyspace by short key prefixes and commit a
block, its state and its indexes in one ``Batch``.

``StateTree`` is the world state as a compressed binary sparse Merkle tree
(membership and non-membership proofs at every committed root); it only
computes writes, the caller commits them. ``LatestState`` is the flat table of
the newest values for fast reads and ordered scans.

Key prefixes used here: ``b"n"`` tree nodes, ``b"v"`` state values,
``b"s"`` latest state.
"""

from __future__ import annotations

from jinglian.storage.kv import (
    KV,
    KV_BATCH_BYTES_MAX,
    KV_KEY_BYTES_MAX,
    KV_VALUE_BYTES_MAX,
    Batch,
    KVReader,
    KVSnapshot,
    MemoryKV,
)
from jinglian.storage.lmdb_kv import LmdbKV
from jinglian.storage.state_store import LATEST_STATE_PREFIX, LatestState
from jinglian.storage.state_tree import (
    EMPTY_ROOT,
    STATE_KEY_BYTES_MAX,
    STATE_NODE_GROUP_BYTES,
    STATE_NODE_PREFIX,
    STATE_VALUE_BYTES_MAX,
    STATE_VALUE_PREFIX,
    StateTree,
    StateWrites,
)

__all__ = [  # noqa: RUF022 (plain sorted order, checked by tests/test_exported_members.py)
    "Batch",
    "EMPTY_ROOT",
    "KV",
    "KVReader",
    "KVSnapshot",
    "KV_BATCH_BYTES_MAX",
    "KV_KEY_BYTES_MAX",
    "KV_VALUE_BYTES_MAX",
    "LATEST_STATE_PREFIX",
    "LatestState",
    "LmdbKV",
    "MemoryKV",
    "STATE_KEY_BYTES_MAX",
    "STATE_NODE_GROUP_BYTES",
    "STATE_NODE_PREFIX",
    "STATE_VALUE_BYTES_MAX",
    "STATE_VALUE_PREFIX",
    "StateTree",
    "StateWrites",
]
