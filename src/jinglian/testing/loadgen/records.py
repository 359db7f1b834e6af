"""What a run records: the blocks it saw and its raw timings, before ``summarize``."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BlockSeen", "LoadResult"]


@dataclass(frozen=True, slots=True)
class BlockSeen:
    """A block of the run: when it was built and when its commit reached the generator."""

    height: int
    tx_count: int
    time_ms: int
    """Header time (the proposer's clock when it started building the block)."""
    seen_s: float
    """``time.time()`` when the stream delivered the block."""
    tx_ids: tuple[bytes, ...] = ()
    failed: tuple[bytes, ...] = ()
    """Ids of the block's transactions whose receipt is not ``ok`` (the call failed)."""


@dataclass
class LoadResult:
    """What one run produced (raw, before ``summarize``)."""

    url: str
    client: str
    txs: int
    concurrency: int
    rate: float | None
    start_s: float
    """``time.time()`` of the first send."""
    end_s: float
    """``time.time()`` when the last send was answered."""
    sent_s: dict[bytes, float] = field(default_factory=dict)
    """Tx id -> ``time.time()`` at the start of its (last) POST."""
    rejected: dict[str, int] = field(default_factory=dict)
    busy_retries: int = 0
    batch: int = 0
    """Transactions per request (0: one per request to ``/txs``)."""
    block_interval_ms: int = 0
    """The chain's ``block_interval_ms`` (solo waits this long before building each block)."""
    blocks: list[BlockSeen] = field(default_factory=list)
    client_cpu_s: float = 0.0
    """CPU seconds the generator process used while sending."""
    node_cpu_s: float | None = None
    """CPU seconds the node process used while sending (with ``node_pid``)."""
    node_cpu_drained_s: float | None = None
    """CPU seconds the node used from the first send until the pool was empty again."""
    py_spy: dict[str, int] | None = None
    """``samples`` and ``errors`` py-spy reported, when it sampled the node."""
    machine_cpu_s: float = 0.0
    """CPU seconds all processes on the machine used while sending (``/proc/stat``)."""
    start_height: int = 0
