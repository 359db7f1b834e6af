"""The narrow seams consensus sees the world through.

Consensus never touches storage, sockets or the wall clock directly: it asks an
``Application`` to build, check and commit blocks, a ``Clock`` for time, and
(for BFT) a ``Transport`` to reach peers and a ``WAL`` to make its own signed
messages durable. Each has an in-memory twin in ``jinglian.testing``.
"""

from __future__ import annotations

import time
from typing import Protocol

from jinglian.types import Commit

__all__ = ["Application", "Clock", "Proposal", "SystemClock"]


class Proposal(Protocol):
    """A block the application built and can later commit."""

    @property
    def height(self) -> int: ...

    @property
    def hash(self) -> bytes: ...

    @property
    def tx_count(self) -> int: ...


class Application(Protocol):
    """The ledger as consensus sees it."""

    def propose_block(self, time_ms: int) -> Proposal | None:
        """Build the next block from waiting transactions (``None`` if there is nothing to build)."""
        ...

    def commit_block(self, proposal: Proposal, commit: Commit) -> None:
        """Make the block final with its commit certificate, durably."""
        ...

    def is_block_full(self) -> bool:
        """True if the transactions waiting already fill a block (no point waiting for more)."""
        ...

    def wait_for_txs(self, timeout_s: float) -> bool:
        """Block until transactions wait or ``timeout_s`` passes; True if any wait."""
        ...


class Clock(Protocol):
    """Time as consensus sees it."""

    def now_ms(self) -> int: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        """Unix time in milliseconds."""
        return time.time_ns() // 1_000_000

    def sleep(self, seconds: float) -> None:
        """Sleep the calling thread."""
        time.sleep(seconds)
