"""Admission of transactions into a bounded pool (``Mempool``)."""

from jinglian.mempool.pool import MEMPOOL_BYTES_MAX, MEMPOOL_TXS_MAX, Mempool

__all__ = ["MEMPOOL_BYTES_MAX", "MEMPOOL_TXS_MAX", "Mempool"]
