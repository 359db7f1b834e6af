"""The key-value seam: every byte jinglian persists goes through ``KV``.

A ``KV`` is one ordered keyspace of byte keys (callers keep their data apart
with short key prefixes) with atomic batched writes and consistent read-only
snapshots. Keys sort bytewise, and ``iterate`` always yields in that order
(or its reverse). Two implementations exist: ``MemoryKV``, the in-memory twin
used by tests and the deterministic simulation, and ``LmdbKV`` in
``jinglian.storage.lmdb_kv``, the embedded on-disk engine (ADR 0004).

Both implementations behave the same for every valid call; a test runs the
same cases against each.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Protocol, Self

from jinglian.types.errors import InvalidInput, TooLarge

__all__ = [
    "KV",
    "KV_BATCH_BYTES_MAX",
    "KV_KEY_BYTES_MAX",
    "KV_VALUE_BYTES_MAX",
    "Batch",
    "GuardedIterator",
    "KVReader",
    "KVSnapshot",
    "MemoryKV",
    "MemorySnapshot",
    "compute_key_range",
    "is_valid_key",
]

KV_KEY_BYTES_MAX = 511
"""Longest key a KV holds (LMDB's compiled-in key size limit); keys are never empty."""

KV_VALUE_BYTES_MAX = 64 * 1024 * 1024
"""Largest single value a KV holds."""

KV_BATCH_BYTES_MAX = 256 * 1024 * 1024
"""Largest batch (keys plus values) written in one atomic commit."""


class KVReader(Protocol):
    """Reads over one ordered keyspace."""

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        ...

    def iterate(
        self, prefix: bytes, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs whose key starts with ``prefix``, in key order.

        ``start`` is the first key to visit (inclusive); with ``reverse`` the
        walk goes from ``start`` (or the last key of the prefix) downwards.
        The iterator sees the store as it was when ``iterate`` was called.
        """
        ...


class KVSnapshot(KVReader, Protocol):
    """A read-only, consistent view of a KV at one instant; close it when done."""

    def close(self) -> None:
        """Release the view; iterators taken from it become unusable."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class KV(KVReader, Protocol):
    """An ordered keyspace with atomic batched writes."""

    def write(self, batch: Batch, sync: bool = True) -> None:
        """Apply every operation of ``batch`` in order, atomically: all or nothing.

        ``sync`` True means the batch is on stable storage when this returns.
        False permits (but does not require) a faster, less durable commit.
        """
        ...

    def snapshot(self) -> KVSnapshot:
        """A consistent read-only view of the store as it is now."""
        ...

    def close(self) -> None:
        """Release the store; no call may follow."""
        ...


class Batch:
    """Puts and deletes applied in order by one atomic ``KV.write``."""

    __slots__ = ("_ops", "_size_bytes")

    def __init__(self) -> None:
        self._ops: list[tuple[bytes, bytes | None]] = []
        self._size_bytes = 0

    def put(self, key: bytes, value: bytes) -> None:
        """Store ``value`` under ``key``, replacing what is there."""
        _validate_key(key)
        if len(value) > KV_VALUE_BYTES_MAX:
            raise TooLarge(f"value is {len(value)} bytes, limit {KV_VALUE_BYTES_MAX}")
        self._add(key, value, len(key) + len(value))

    def delete(self, key: bytes) -> None:
        """Remove ``key`` if present."""
        _validate_key(key)
        self._add(key, None, len(key))

    def extend(self, puts: Iterable[tuple[bytes, bytes]]) -> None:
        """``put`` each ``(key, value)`` of ``puts`` in order."""
        for key, value in puts:
            self.put(key, value)

    @property
    def size_bytes(self) -> int:
        """Total bytes of keys and values in the batch."""
        return self._size_bytes

    def __len__(self) -> int:
        return len(self._ops)

    def __iter__(self) -> Iterator[tuple[bytes, bytes | None]]:
        """The operations in order: ``(key, value)`` for a put, ``(key, None)`` for a delete."""
        return iter(self._ops)

    def _add(self, key: bytes, value: bytes | None, size_bytes: int) -> None:
        if self._size_bytes + size_bytes > KV_BATCH_BYTES_MAX:
            raise TooLarge(f"batch would exceed {KV_BATCH_BYTES_MAX} bytes")
        self._ops.append((key, value))
        self._size_bytes += size_bytes


def _validate_key(key: bytes) -> None:
    if not key:
        raise InvalidInput("KV keys must not be empty")
    if len(key) > KV_KEY_BYTES_MAX:
        raise TooLarge(f"key is {len(key)} bytes, limit {KV_KEY_BYTES_MAX}")


def is_valid_key(key: bytes) -> bool:
    """Whether ``key`` could be stored at all (reads of other keys find nothing)."""
    return 0 < len(key) <= KV_KEY_BYTES_MAX


def compute_key_range(
    prefix: bytes, start: bytes | None, reverse: bool
) -> tuple[bytes, bytes | None]:
    """The half-open key range ``[low, high)`` an ``iterate`` call visits (high None: unbounded)."""
    low, high = prefix, _compute_prefix_end(prefix)
    if start is None:
        return low, high
    if reverse:
        after_start = start + b"\x00"  # the smallest key greater than start
        if high is None or after_start < high:
            high = after_start
    elif start > low:
        low = start
    return low, high


def _compute_prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key above every key starting with ``prefix``; None if there is none."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class GuardedIterator:
    """An iterator that calls ``release`` once, when exhausted, closed or collected."""

    __slots__ = ("_items", "_release")

    def __init__(self, items: Iterator[tuple[bytes, bytes]], release: Callable[[], None]) -> None:
        self._items: Iterator[tuple[bytes, bytes]] | None = items
        self._release = release

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> tuple[bytes, bytes]:
        if self._items is None:
            raise StopIteration
        try:
            return next(self._items)
        except StopIteration:
            self.close()
            raise

    def close(self) -> None:
        """Stop iterating and release the view now."""
        if self._items is not None:
            self._items = None
            self._release()

    def __del__(self) -> None:
        self.close()


class _Table:
    """MemoryKV's data: a dict plus a lazily sorted key list.

    A table with ``readers`` (live snapshots or iterators) is never changed;
    a write copies it first, so readers keep a consistent view for free.
    """

    __slots__ = ("added", "data", "keys", "readers", "stale")

    def __init__(self, data: dict[bytes, bytes], keys: list[bytes]) -> None:
        self.data = data
        self.keys = keys
        """Sorted keys; may hold ``stale`` deleted keys and lack the ``added`` ones."""
        self.added: set[bytes] = set()
        self.stale = 0
        self.readers = 0

    def copy(self) -> _Table:
        assert not self.added and not self.stale, "a table with readers is always sorted"
        return _Table(dict(self.data), list(self.keys))

    def put(self, key: bytes, value: bytes) -> None:
        if key not in self.data:
            self.added.add(key)
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        if self.data.pop(key, None) is None:
            return
        if key in self.added:
            self.added.discard(key)
        else:
            self.stale += 1

    def sort(self) -> None:
        """Bring ``keys`` up to date (linear time: Timsort merges the two sorted runs)."""
        if self.stale:
            assert self.readers == 0
            self.keys = [k for k in self.keys if k in self.data and k not in self.added]
            self.stale = 0
        if self.added:
            assert self.readers == 0
            self.keys.extend(sorted(self.added))
            self.keys.sort()
            self.added.clear()

    def acquire(self) -> _Table:
        self.sort()
        self.readers += 1
        return self

    def release(self) -> None:
        assert self.readers > 0
        self.readers -= 1

    def iterate(
        self, prefix: bytes, start: bytes | None, reverse: bool
    ) -> Iterator[tuple[bytes, bytes]]:
        assert not self.added and not self.stale, "iterate only over a sorted table"
        low, high = compute_key_range(prefix, start, reverse)
        keys, data = self.keys, self.data
        lo = bisect.bisect_left(keys, low)
        hi = len(keys) if high is None else bisect.bisect_left(keys, high)
        indices = range(hi - 1, lo - 1, -1) if reverse else range(lo, hi)
        return ((keys[i], data[keys[i]]) for i in indices)


class MemoryKV:
    """The in-memory twin of ``LmdbKV``: same behaviour, no durability, one thread.

    Snapshots and iterators are O(1) to take: the data is copied once, at the
    next write, only while one of them is open.
    """

    def __init__(self) -> None:
        self._table = _Table({}, [])
        self._closed = False

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        assert not self._closed
        return self._table.data.get(key)

    def iterate(
        self, prefix: bytes, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """See ``KVReader.iterate``."""
        assert not self._closed
        table = self._table.acquire()
        return GuardedIterator(table.iterate(prefix, start, reverse), table.release)

    def write(self, batch: Batch, sync: bool = True) -> None:
        """Apply ``batch`` atomically (``sync`` has no meaning in memory)."""
        assert not self._closed
        if self._table.readers:
            self._table = self._table.copy()
        table = self._table
        for key, value in batch:
            if value is None:
                table.delete(key)
            else:
                table.put(key, value)

    def snapshot(self) -> MemorySnapshot:
        """A consistent read-only view; later writes do not show through it."""
        assert not self._closed
        return MemorySnapshot(self._table.acquire())

    def close(self) -> None:
        """Mark the store closed; later calls are bugs."""
        self._closed = True

    def __len__(self) -> int:
        return len(self._table.data)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class MemorySnapshot:
    """A frozen view of a ``MemoryKV``."""

    def __init__(self, table: _Table) -> None:
        self._table = table
        self._closed = False

    def get(self, key: bytes) -> bytes | None:
        """The value ``key`` had when the snapshot was taken, or None."""
        assert not self._closed, "snapshot used after close"
        return self._table.data.get(key)

    def iterate(
        self, prefix: bytes, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """See ``KVReader.iterate``; valid until the snapshot is closed."""
        assert not self._closed, "snapshot used after close"
        return self._table.iterate(prefix, start, reverse)

    def close(self) -> None:
        """Release the view."""
        if not self._closed:
            self._closed = True
            self._table.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
