"""The bounded pool of admitted transactions waiting for a block.

``Mempool.add`` admits a transaction only after the injected ``check`` accepts
it (chain id, validity window, signature, certificate, role, not already
committed) and only if the pool has room: a full pool raises ``Busy`` instead
of growing. Transactions leave the pool when a block commits them or when the
proposer finds them no longer acceptable. Order is first come, first served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from jinglian.types import Tx
from jinglian.types.errors import Busy, DuplicateTransaction

__all__ = ["MEMPOOL_BYTES_MAX", "MEMPOOL_TXS_MAX", "Mempool"]

MEMPOOL_TXS_MAX = 100_000
"""Most transactions a pool holds."""
MEMPOOL_BYTES_MAX = 256 * 1024 * 1024
"""Most bytes of transactions a pool holds."""


class Mempool:
    """Admitted transactions in arrival order; safe to use from several threads."""

    def __init__(
        self,
        check: Callable[[Tx], object],
        txs_max: int = MEMPOOL_TXS_MAX,
        bytes_max: int = MEMPOOL_BYTES_MAX,
    ) -> None:
        self._check = check
        self._txs_max = txs_max
        self._bytes_max = bytes_max
        self._txs: OrderedDict[bytes, Tx] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    def add(self, tx: Tx) -> None:
        """Admit ``tx`` or raise why not (``Busy`` when full, ``DuplicateTransaction``, or the check's error)."""
        with self._lock:
            self._refuse_if_present_or_full(tx)
        self._check(tx)
        with self._lock:
            self._refuse_if_present_or_full(tx)
            self._txs[tx.id] = tx
            self._bytes += len(tx.encoded)
            self._arrived.notify_all()

    def _refuse_if_present_or_full(self, tx: Tx) -> None:
        if tx.id in self._txs:
            raise DuplicateTransaction(f"transaction {tx.id.hex()} is already waiting in the pool")
        if len(self._txs) >= self._txs_max or self._bytes + len(tx.encoded) > self._bytes_max:
            raise Busy("the transaction pool is full; retry shortly")

    def reap(self, txs_max: int, bytes_max: int) -> list[Tx]:
        """The oldest transactions that fit the limits, without removing them."""
        picked: list[Tx] = []
        total = 0
        with self._lock:
            for tx in self._txs.values():
                if len(picked) >= txs_max or total + len(tx.encoded) > bytes_max:
                    break
                picked.append(tx)
                total += len(tx.encoded)
        return picked

    def remove(self, tx_ids: Iterable[bytes]) -> None:
        """Forget transactions that were committed or dropped."""
        with self._lock:
            for tx_id in tx_ids:
                tx = self._txs.pop(tx_id, None)
                if tx is not None:
                    self._bytes -= len(tx.encoded)

    def wait(self, timeout_s: float) -> bool:
        """Block until the pool holds a transaction or ``timeout_s`` passes; True if not empty."""
        with self._lock:
            if not self._txs:
                self._arrived.wait(timeout_s)
            return bool(self._txs)

    def wake(self) -> None:
        """Wake threads blocked in ``wait`` (used on shutdown)."""
        with self._lock:
            self._arrived.notify_all()

    def get(self, tx_id: bytes) -> Tx | None:
        """The waiting transaction with this id, if any."""
        return self._txs.get(tx_id)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self._txs

    def __len__(self) -> int:
        return len(self._txs)

    @property
    def size_bytes(self) -> int:
        """Bytes of transactions held."""
        return self._bytes
