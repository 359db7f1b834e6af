"""State views: the latest state with a block's pending writes on top.

``BlockState`` is what contracts read and write during a block: reads see the
writes of earlier transactions in the same block; a transaction's writes are
applied only if it succeeds. Iteration merges pending writes with the flat
latest-state table, in key order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from typing import Protocol

from jinglian.ledger.keys import FLAT_STATE

__all__ = ["BlockState", "KVReader", "StateView"]


class KVReader(Protocol):
    """The read half of a KV store (a live store or a snapshot)."""

    def get(self, key: bytes) -> bytes | None: ...

    def iterate(
        self, prefix: bytes, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]: ...


class StateView(Protocol):
    """Read access to raw state keys, as contracts see it."""

    def get(self, key: bytes) -> bytes | None: ...

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]: ...


class BlockState:
    """The latest committed state plus the pending writes of the block being built."""

    def __init__(self, base: KVReader) -> None:
        self._base = base
        self.pending: dict[bytes, bytes | None] = {}
        """Raw state key -> new value (``None`` deletes), in first-write order."""

    def get(self, key: bytes) -> bytes | None:
        """Latest value of ``key`` including this block's writes."""
        if key in self.pending:
            return self.pending[key]
        return self._base.get(FLAT_STATE + key)

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Keys under ``prefix`` in byte order, with this block's writes merged in."""
        pending = sorted((k, v) for k, v in self.pending.items() if k.startswith(prefix))
        committed = ((k[len(FLAT_STATE) :], v) for k, v in self._base.iterate(FLAT_STATE + prefix))
        pending_keys = {k for k, _ in pending}
        merged = heapq.merge(
            ((k, v) for k, v in committed if k not in pending_keys),
            ((k, v) for k, v in pending if v is not None),
        )
        yield from merged

    def apply(self, writes: Mapping[bytes, bytes | None]) -> None:
        """Make a successful transaction's writes visible to the rest of the block."""
        self.pending.update(writes)
