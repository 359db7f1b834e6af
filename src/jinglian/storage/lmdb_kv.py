"""``LmdbKV``: the embedded on-disk ``KV``, one LMDB environment (ADR 0004).

One environment holds one keyspace (no named sub-databases; callers use short
key prefixes). A ``write`` is one LMDB write transaction, so a batch is on
disk entirely or not at all, whatever instant the process dies at; with the
default flags the commit is flushed (data pages, then the meta page) before
``write`` returns. The memory map starts at ``map_size_bytes`` and doubles
whenever a batch does not fit, up to ``LMDB_MAP_SIZE_MAX_BYTES``.

Growing the map invalidates every snapshot and iterator open at that moment
in this process (LMDB remaps the file); they raise ``lmdb.Error`` if used
afterwards. Growth is rare (the map doubles each time), and readers are
expected to be short-lived.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import TracebackType
from typing import Self

import lmdb

from jinglian.storage.kv import (
    KV_KEY_BYTES_MAX,
    Batch,
    GuardedIterator,
    compute_key_range,
    is_valid_key,
)

__all__ = [
    "LMDB_MAP_SIZE_INITIAL_BYTES",
    "LMDB_MAP_SIZE_MAX_BYTES",
    "LMDB_READERS_MAX",
    "LmdbKV",
    "LmdbSnapshot",
]

LMDB_MAP_SIZE_INITIAL_BYTES = 1 << 30
"""Default initial map size (virtual address space, not disk: the file grows as used)."""

LMDB_MAP_SIZE_MAX_BYTES = 1 << 40
"""The map never grows past this; a batch that still does not fit raises ``lmdb.MapFullError``."""

LMDB_READERS_MAX = 256
"""Concurrent read transactions (snapshots, iterators, gets) across all processes."""


class LmdbKV:
    """A ``KV`` stored in the LMDB environment at directory ``path``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        map_size_bytes: int = LMDB_MAP_SIZE_INITIAL_BYTES,
        readonly: bool = False,
    ) -> None:
        self._readonly = readonly
        self._env = lmdb.open(
            os.fspath(path),
            map_size=map_size_bytes,
            subdir=True,
            readonly=readonly,
            create=not readonly,
            metasync=True,
            sync=True,
            map_async=False,
            writemap=False,
            readahead=False,
            max_readers=LMDB_READERS_MAX,
            max_dbs=0,
            max_spare_txns=1,
            lock=True,
        )

    @property
    def map_size_bytes(self) -> int:
        """The current size of the memory map."""
        return self._env.info()["map_size"]

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        if not is_valid_key(key):
            return None
        with self._begin_read() as txn:
            return txn.get(key)

    def iterate(
        self, prefix: bytes, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """See ``KVReader.iterate``; the iterator holds a read transaction until done."""
        txn = self._begin_read()
        return GuardedIterator(_iterate_txn(txn, prefix, start, reverse), txn.abort)

    def write(self, batch: Batch, sync: bool = True) -> None:
        """Commit ``batch`` atomically, growing the map and retrying if it is full.

        Every commit is flushed to disk: LMDB fixes durability per environment,
        so ``sync`` False is accepted and gives the same durable commit.
        """
        assert not self._readonly, "write to a read-only LmdbKV"
        while True:
            try:
                self._write_once(batch)
                return
            except lmdb.MapFullError:
                self._grow_map(batch.size_bytes)

    def snapshot(self) -> LmdbSnapshot:
        """A consistent read-only view (one LMDB read transaction)."""
        return LmdbSnapshot(self._begin_read())

    def close(self) -> None:
        """Close the environment; open snapshots and iterators become unusable."""
        self._env.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _write_once(self, batch: Batch) -> None:
        with self._env.begin(write=True) as txn:
            for key, value in batch:
                if value is None:
                    txn.delete(key)
                else:
                    txn.put(key, value)

    def _grow_map(self, batch_bytes: int) -> None:
        """Double the map, or more if the batch alone needs more (B+tree pages add overhead)."""
        size_bytes = self.map_size_bytes
        if size_bytes >= LMDB_MAP_SIZE_MAX_BYTES:
            raise lmdb.MapFullError(f"LMDB map is at its limit of {LMDB_MAP_SIZE_MAX_BYTES} bytes")
        wanted_bytes = max(size_bytes * 2, size_bytes + 4 * batch_bytes)
        self._env.set_mapsize(min(wanted_bytes, LMDB_MAP_SIZE_MAX_BYTES))

    def _begin_read(self) -> lmdb.Transaction[bytes]:
        try:
            return self._env.begin(write=False)
        except lmdb.MapResizedError:
            # Another process grew the map: adopt its size and try again.
            self._env.set_mapsize(0)
            return self._env.begin(write=False)


class LmdbSnapshot:
    """A consistent read-only view of an ``LmdbKV`` (one read transaction)."""

    def __init__(self, txn: lmdb.Transaction[bytes]) -> None:
        self._txn = txn

    def get(self, key: bytes) -> bytes | None:
        """The value ``key`` had when the snapshot was taken, or None."""
        if not is_valid_key(key):
            return None
        return self._txn.get(key)

    def iterate(
        self, prefix: bytes, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """See ``KVReader.iterate``; valid until the snapshot is closed."""
        return _iterate_txn(self._txn, prefix, start, reverse)

    def close(self) -> None:
        """End the read transaction."""
        self._txn.abort()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _iterate_txn(
    txn: lmdb.Transaction[bytes], prefix: bytes, start: bytes | None, reverse: bool
) -> Iterator[tuple[bytes, bytes]]:
    low, high = compute_key_range(prefix, start, reverse)
    if high is not None and low >= high:
        return iter(())
    cursor = txn.cursor()
    if reverse:
        return _iterate_down(cursor, low, high)
    return _iterate_up(cursor, low, high)


def _iterate_up(
    cursor: lmdb.Cursor[bytes], low: bytes, high: bytes | None
) -> Iterator[tuple[bytes, bytes]]:
    # LMDB refuses to seek to keys longer than it can store; seek to the
    # truncation (which sorts below ``low``) and step over what precedes ``low``.
    found = cursor.set_range(low[:KV_KEY_BYTES_MAX])
    while found and cursor.key() < low:
        found = cursor.next()
    while found:
        key, value = cursor.item()
        if high is not None and key >= high:
            return
        yield key, value
        found = cursor.next()


def _iterate_down(
    cursor: lmdb.Cursor[bytes], low: bytes, high: bytes | None
) -> Iterator[tuple[bytes, bytes]]:
    if high is None:
        found = cursor.last()
    else:
        found = cursor.set_range(high[:KV_KEY_BYTES_MAX]) or cursor.last()
        while found and cursor.key() >= high:
            found = cursor.prev()
    while found:
        key, value = cursor.item()
        if key < low:
            return
        yield key, value
        found = cursor.prev()
