"""Step 5, figures: committed tx/s over the steady window and latency percentiles."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from typing import Any

from jinglian.testing.loadgen.records import BlockSeen, LoadResult

__all__ = ["percentile", "summarize"]


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of sorted ``ordered``; NaN if it is empty."""
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def summarize(result: LoadResult, warmup_s: float) -> dict[str, Any]:
    """Committed tx/s over the steady window, latency percentiles, and the run's facts."""
    window_start_ms = (result.start_s + warmup_s) * 1000
    window_end_ms = result.end_s * 1000
    blocks = sorted(result.blocks, key=lambda b: b.height)
    inside = [b for b in blocks if window_start_ms <= b.time_ms <= window_end_ms]
    committed = sum(b.tx_count for b in blocks)
    summary: dict[str, Any] = {
        "url": result.url,
        "client": result.client,
        "txs_offered": result.txs,
        "txs_committed": committed,
        "concurrency": result.concurrency,
        "batch": result.batch,
        "offered_rate_tps": result.rate,
        "rejected": result.rejected,
        "busy_retries": result.busy_retries,
        "blocks": len(blocks),
        "send_duration_s": round(result.end_s - result.start_s, 2),
        "client_cpu_s": round(result.client_cpu_s, 2),
        "node_cpu_s": None if result.node_cpu_s is None else round(result.node_cpu_s, 2),
        "machine_cpu_s": round(result.machine_cpu_s, 2),
        "cores_busy_mean": round(result.machine_cpu_s / (result.end_s - result.start_s), 2),
        "warmup_s": warmup_s,
    }
    if result.node_cpu_s is not None:
        others = result.machine_cpu_s - result.node_cpu_s - result.client_cpu_s
        summary["other_processes_cpu_s"] = round(others, 2)
    if result.node_cpu_drained_s is not None:
        summary["node_cpu_drained_s"] = round(result.node_cpu_drained_s, 2)
        summary["node_cpu_us_per_committed_tx"] = round(
            result.node_cpu_drained_s / max(1, committed) * 1e6
        )
    if len(inside) >= 2:
        summary.update(_window_figures(inside))
    summary.update(_latency_figures(result, blocks, inside))
    return summary


def _window_figures(inside: Sequence[BlockSeen]) -> dict[str, Any]:
    """Committed tx/s, block sizes and intervals over the window's blocks (at least two)."""
    summary: dict[str, Any] = {}
    # Blocks after the first in the window, over the time from the first's header to the last's.
    span_s = (inside[-1].time_ms - inside[0].time_ms) / 1000
    window_txs = sum(b.tx_count for b in inside[1:])
    summary["window_s"] = round(span_s, 2)
    summary["window_blocks"] = len(inside) - 1
    summary["window_txs"] = window_txs
    summary["committed_tps"] = round(window_txs / span_s, 1) if span_s > 0 else None
    sizes = [b.tx_count for b in inside]
    summary["block_txs_mean"] = round(statistics.fmean(sizes), 1)
    gaps = [(b.time_ms - a.time_ms) for a, b in itertools.pairwise(inside)]
    summary["block_interval_ms_mean"] = round(statistics.fmean(gaps), 1)
    return summary


def _latency_figures(
    result: LoadResult, blocks: Sequence[BlockSeen], inside: Sequence[BlockSeen]
) -> dict[str, Any]:
    """Latency percentiles of the window's transactions: to the stream message and to the commit."""
    summary: dict[str, Any] = {}
    # Notified: the block's message arrived on the stream. Committed (estimated): under load
    # solo builds the next block block_interval_ms after a commit, so a block committed no
    # later than the next block's header time less the interval (or its stream arrival).
    interval_s = result.block_interval_ms / 1000
    following = {a.height: b for a, b in itertools.pairwise(blocks)}
    notified: list[float] = []
    committed_at: list[float] = []
    for b in inside:
        if math.isnan(b.seen_s):
            continue
        after = following.get(b.height)
        done = b.seen_s
        if after is not None and after.height == b.height + 1:
            done = max(b.time_ms / 1000, min(done, after.time_ms / 1000 - interval_s))
        for tx_id in b.tx_ids:
            sent = result.sent_s.get(tx_id)
            if sent is not None:
                notified.append((b.seen_s - sent) * 1000)
                committed_at.append((done - sent) * 1000)
    summary["latency_samples"] = len(notified)
    for label, values in (("latency_ms", notified), ("commit_latency_ms", committed_at)):
        values.sort()
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
            summary[f"{label}_{name}"] = round(percentile(values, q), 1)
    return summary
