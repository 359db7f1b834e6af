"""The write buffer of one transaction.

Contracts never write to the ledger's state directly: every write lands here
and reads see it first. On success the runtime hands ``writes`` to the ledger;
on any failure it drops them, so a failed transaction (including the writes of
every contract it called) leaves state untouched.
"""

from __future__ import annotations

from collections.abc import Iterator

from jinglian.execution._model import StateView

__all__ = ["Overlay"]


class Overlay:
    """Buffered writes over a ``StateView``."""

    __slots__ = ("base", "writes")

    def __init__(self, base: StateView) -> None:
        self.base = base
        """State as of the start of the transaction."""
        self.writes: dict[bytes, bytes | None] = {}
        """Raw key -> encoded value or None (deleted), in first-write order."""

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key`` including this transaction's writes."""
        if key in self.writes:
            return self.writes[key]
        return self.base.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        """Buffer a write (None deletes)."""
        self.writes[key] = value

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Entries under ``prefix`` in key order, this transaction's writes merged in."""
        pending = sorted((k, v) for k, v in self.writes.items() if k.startswith(prefix))
        index = 0
        for key, value in self.base.iterate(prefix):
            while index < len(pending) and pending[index][0] < key:
                yield from _present(pending[index])
                index += 1
            if index < len(pending) and pending[index][0] == key:
                yield from _present(pending[index])
                index += 1
                continue
            yield key, value
        for entry in pending[index:]:
            yield from _present(entry)


def _present(entry: tuple[bytes, bytes | None]) -> Iterator[tuple[bytes, bytes]]:
    key, value = entry
    if value is not None:
        yield key, value
