"""``MemoryState``: the in-memory twin of the ledger's state view, for tests and tools."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping

__all__ = ["MemoryState"]


class MemoryState:
    """A ``StateView`` over a dict, with ``apply`` to take a ``CallResult``'s writes."""

    def __init__(self, data: Mapping[bytes, bytes] | None = None) -> None:
        self._data: dict[bytes, bytes] = dict(data or {})
        self._keys: list[bytes] = sorted(self._data)

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key``, or None."""
        return self._data.get(key)

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Entries whose key starts with ``prefix``, in key order."""
        index = bisect.bisect_left(self._keys, prefix)
        while index < len(self._keys) and self._keys[index].startswith(prefix):
            key = self._keys[index]
            yield key, self._data[key]
            index += 1

    def apply(self, writes: Mapping[bytes, bytes | None]) -> None:
        """Apply writes (None deletes), as the ledger does after a successful call."""
        for key, value in writes.items():
            if value is None:
                if self._data.pop(key, None) is not None:
                    del self._keys[bisect.bisect_left(self._keys, key)]
            else:
                if key not in self._data:
                    bisect.insort(self._keys, key)
                self._data[key] = value

    def snapshot(self) -> dict[bytes, bytes]:
        """A copy of every entry, in key order."""
        return {key: self._data[key] for key in self._keys}
