"""``LatestState``: the flat table of the newest state, for O(1) reads and prefix scans.

The state tree answers reads at any root, but each read walks about
``log2(n)`` nodes. Execution and queries mostly want the newest value of a
key, or the newest keys under a prefix in key order, so the ledger keeps this
table beside the tree and updates both in the block's batch::

    b"s" + key -> value
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from jinglian.storage.kv import Batch, KVReader
from jinglian.storage.state_tree import STATE_KEY_BYTES_MAX, STATE_VALUE_BYTES_MAX
from jinglian.types.errors import TooLarge

__all__ = ["LATEST_STATE_PREFIX", "LatestState"]

LATEST_STATE_PREFIX = b"s"
"""KV key prefix of the latest-state table: ``b"s" + key``."""


class LatestState:
    """Reads of the latest-state table in ``kv``, and the writes that change it."""

    def __init__(self, kv: KVReader) -> None:
        self._kv = kv

    def get(self, key: bytes) -> bytes | None:
        """The newest value of ``key``, or None."""
        return self._kv.get(LATEST_STATE_PREFIX + key)

    def iterate(
        self, prefix: bytes, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` of the newest state under ``prefix``, in key order (see ``KV``)."""
        offset = len(LATEST_STATE_PREFIX)
        full_start = None if start is None else LATEST_STATE_PREFIX + start
        items = self._kv.iterate(LATEST_STATE_PREFIX + prefix, full_start, reverse)
        return ((key[offset:], value) for key, value in items)

    def save_changes(self, batch: Batch, changes: Mapping[bytes, bytes | None]) -> None:
        """Add ``changes`` (None deletes) to ``batch``, in key order."""
        for key in sorted(changes):
            value = changes[key]
            if len(key) > STATE_KEY_BYTES_MAX:
                raise TooLarge(f"state key is {len(key)} bytes, limit {STATE_KEY_BYTES_MAX}")
            if value is None:
                batch.delete(LATEST_STATE_PREFIX + key)
            elif len(value) > STATE_VALUE_BYTES_MAX:
                raise TooLarge(f"state value is {len(value)} bytes, limit {STATE_VALUE_BYTES_MAX}")
            else:
                batch.put(LATEST_STATE_PREFIX + key, value)
