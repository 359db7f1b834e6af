"""Prometheus metrics of one node (served at ``/metrics``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from jinglian.ledger import BlockResult

__all__ = ["NodeMetrics"]


class NodeMetrics:
    """The node's counters and gauges, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.height = Gauge(
            "jinglian_block_height", "Height of the latest committed block", registry=self.registry
        )
        self.txs_committed = Counter(
            "jinglian_txs_committed", "Transactions committed in blocks", registry=self.registry
        )
        self.txs_failed = Counter(
            "jinglian_txs_failed",
            "Committed transactions whose contract call failed",
            registry=self.registry,
        )
        self.txs_dropped = Counter(
            "jinglian_txs_dropped",
            "Admitted transactions left out of blocks",
            registry=self.registry,
        )
        self.txs_rejected = Counter(
            "jinglian_txs_rejected",
            "Transactions refused at admission",
            ["code"],
            registry=self.registry,
        )
        self.mempool_txs = Gauge(
            "jinglian_mempool_txs", "Transactions waiting in the pool", registry=self.registry
        )
        self.commit_seconds = Histogram(
            "jinglian_block_commit_seconds", "Time to write a block durably", registry=self.registry
        )
        self.block_txs = Histogram(
            "jinglian_block_txs",
            "Transactions per block",
            buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000, 20000),
            registry=self.registry,
        )

        self.consensus = Gauge(
            "jinglian_consensus",
            "BFT consensus and peer network figures of a tbft node (round, connected peers, "
            "blocks synced, peer messages dropped as invalid or for a full queue, "
            "proposed block bodies fetched, frames not queued to a full peer)",
            ["figure"],
            registry=self.registry,
        )

    def set_consensus(self, figures: Mapping[str, object]) -> None:
        """Publish the replica's figures (``Replica.status``) as ``jinglian_consensus{figure=...}``."""
        for name, value in figures.items():
            if isinstance(value, int):
                self.consensus.labels(figure=name).set(value)

    def on_block(self, result: BlockResult, pool_size: int) -> None:
        """Record a committed block."""
        self.height.set(result.height)
        self.txs_committed.inc(result.tx_count)
        self.txs_failed.inc(sum(1 for r in result.receipts if not r.ok))
        self.block_txs.observe(result.tx_count)
        self.mempool_txs.set(pool_size)

    def render(self) -> bytes:
        """Prometheus exposition text."""
        return generate_latest(self.registry)
