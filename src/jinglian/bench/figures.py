"""Figures of one step: rates, success, latency percentiles, blocks, CPU and memory, and series.

A step's *window* starts after its warm-up and ends with its last scheduled
request. Rates count what happened inside the window over its length:
*submitted* (requests that left), *accepted* (transactions the node
admitted), *committed* (transactions whose block's commit event, its arrival
on the block stream, fell in the window). *Success* is the share of the
transactions submitted in the window that committed with an ``ok`` receipt
by the end of the step (refusals, ``busy`` included, count as failures).
*Latency* runs from a transaction's request leaving to its block's commit
event, for the window's transactions; for ``query``, from the request
leaving to its answer.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from jinglian.bench.load import SendLog
from jinglian.bench.observe import ResourceSample
from jinglian.testing.loadgen.figures import percentile
from jinglian.testing.loadgen.records import BlockSeen

__all__ = [
    "MIB",
    "PERCENTILES",
    "commit_times",
    "compute_resource_figures",
    "compute_series",
    "compute_step_figures",
    "latency_figures",
]

MIB = 1024 * 1024
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
"""Latency percentiles reported (nearest rank)."""


def latency_figures(values_ms: list[float], prefix: str = "latency_ms") -> dict[str, float | None]:
    """``{prefix}_p50`` ... ``{prefix}_max`` of ``values_ms`` (``None`` without values)."""
    ordered = sorted(values_ms)
    return {
        f"{prefix}_{name}": (round(percentile(ordered, q), 1) if ordered else None)
        for name, q in PERCENTILES
    }


def commit_times(blocks: Sequence[BlockSeen]) -> tuple[dict[bytes, float], set[bytes], int]:
    """Tx id -> commit event time, the ids of failed calls, and transactions without an event time.

    A block the stream did not deliver (its arrival unknown) still counts as
    committed, but its transactions have no latency.
    """
    committed: dict[bytes, float] = {}
    failed: set[bytes] = set()
    unseen = 0
    for block in blocks:
        failed.update(block.failed)
        if math.isnan(block.seen_s):
            unseen += len(block.tx_ids)
        for tx_id in block.tx_ids:
            committed[tx_id] = block.seen_s
    return committed, failed, unseen


def compute_step_figures(
    log: SendLog,
    blocks: Sequence[BlockSeen],
    window: tuple[float, float],
    *,
    is_query: bool = False,
    digests_per_tx: int = 0,
) -> dict[str, Any]:
    """Rates, success and latency of one step over ``window`` (wall seconds)."""
    start, end = window
    span = end - start
    assert span > 0, "a window has a positive length"
    figures: dict[str, Any] = {"window_s": round(span, 2)}
    figures.update(_request_figures(log, window))
    if is_query:
        figures.update(_query_figures(log, window))
    else:
        figures.update(_tx_figures(log, blocks, window, digests_per_tx))
    figures.update(_block_figures(blocks, window))
    return figures


def _request_figures(log: SendLog, window: tuple[float, float]) -> dict[str, Any]:
    """How late requests left (generator lag) and how long their answers took."""
    start, end = window
    inside = [r for r in log.requests if start <= r.sent_s <= end]
    figures: dict[str, Any] = {"requests": len(inside)}
    figures.update(latency_figures([(r.sent_s - r.due_s) * 1000 for r in inside], "send_lag_ms"))
    figures.update(latency_figures([(r.answered_s - r.sent_s) * 1000 for r in inside], "answer_ms"))
    return figures


def _tx_figures(
    log: SendLog, blocks: Sequence[BlockSeen], window: tuple[float, float], digests_per_tx: int
) -> dict[str, Any]:
    start, end = window
    span = end - start
    committed, failed, unseen = commit_times(blocks)
    ours = [(tx_id, sent) for tx_id, sent in log.sent_s.items() if start <= sent <= end]
    accepted = sum(1 for tx_id, _ in ours if tx_id in log.accepted)
    ok = [tx_id for tx_id, _ in ours if tx_id in committed and tx_id not in failed]
    in_window = sum(
        1 for tx_id, at in committed.items() if tx_id in log.sent_s and start <= at <= end
    )
    latencies = [
        (committed[tx_id] - sent) * 1000
        for tx_id, sent in ours
        if tx_id in committed and not math.isnan(committed[tx_id])
    ]
    refused = Counter(log.refused[tx_id] for tx_id, _ in ours if tx_id in log.refused)
    figures: dict[str, Any] = {
        "submitted": len(ours),
        "accepted": accepted,
        "committed_ok": len(ok),
        "committed_failed": sum(1 for tx_id, _ in ours if tx_id in failed),
        "accepted_not_committed": sum(
            1 for tx_id, _ in ours if tx_id in log.accepted and tx_id not in committed
        ),
        "refused": dict(sorted(refused.items())),
        "submitted_tps": round(len(ours) / span, 1),
        "accepted_tps": round(accepted / span, 1),
        "committed_tps": round(in_window / span, 1),
        "success_rate": round(len(ok) / len(ours), 4) if ours else None,
        "latency_samples": len(latencies),
        "latency_missing": unseen,
    }
    figures.update(latency_figures(latencies))
    if digests_per_tx:
        figures["digests_per_s"] = round(in_window * digests_per_tx / span, 1)
    return figures


def _query_figures(log: SendLog, window: tuple[float, float]) -> dict[str, Any]:
    start, end = window
    span = end - start
    inside = [r for r in log.requests if start <= r.sent_s <= end]
    answered_ok = [r for r in inside if r.ok]
    figures: dict[str, Any] = {
        "submitted": len(inside),
        "queries_ok": len(answered_ok),
        "refused": dict(sorted(log.errors.items())),
        "submitted_qps": round(len(inside) / span, 1),
        "queries_per_s": round(sum(1 for r in inside if r.ok and r.answered_s <= end) / span, 1),
        "success_rate": round(len(answered_ok) / len(inside), 4) if inside else None,
        "latency_samples": len(answered_ok),
    }
    figures.update(latency_figures([(r.answered_s - r.sent_s) * 1000 for r in answered_ok]))
    return figures


def _block_figures(blocks: Sequence[BlockSeen], window: tuple[float, float]) -> dict[str, Any]:
    """Size and interval of the blocks whose commit event fell in the window."""
    start, end = window
    inside = [b for b in blocks if not math.isnan(b.seen_s) and start <= b.seen_s <= end]
    figures: dict[str, Any] = {"blocks": len(inside)}
    if inside:
        sizes = [b.tx_count for b in inside]
        figures["block_txs_mean"] = round(statistics.fmean(sizes), 1)
        figures["block_txs_max"] = max(sizes)
    if len(inside) >= 2:
        gaps = [b.time_ms - a.time_ms for a, b in itertools.pairwise(inside)]
        figures["block_interval_ms_mean"] = round(statistics.fmean(gaps), 1)
        figures["block_interval_ms_max"] = max(gaps)
    return figures


def compute_resource_figures(
    samples: Sequence[ResourceSample], window: tuple[float, float], signing_cpu_s: float = 0.0
) -> dict[str, Any]:
    """CPU (cores busy on average) and resident memory per node over the window's samples.

    ``signing_cpu_s`` is what signing worker processes used inside the window
    (long runs sign later segments while sending); it counts as the
    generator's, not as other processes'.
    """
    start, end = window
    inside = [s for s in samples if start <= s.t_s <= end]
    if len(inside) < 2:
        return {}
    first, last = inside[0], inside[-1]
    span = last.t_s - first.t_s
    nodes: dict[str, Any] = {}
    node_cpu = 0.0
    for name in sorted(first.nodes):
        if name not in last.nodes:
            nodes[name] = {"exited": True}
            continue
        cpu = last.nodes[name][0] - first.nodes[name][0]
        node_cpu += cpu
        rss = [s.nodes[name][1] / MIB for s in inside if name in s.nodes]
        nodes[name] = {
            "cpu_cores": round(cpu / span, 3),
            "rss_mib_start": round(rss[0], 1),
            "rss_mib_end": round(rss[-1], 1),
            "rss_mib_max": round(max(rss), 1),
            "rss_growth_pct": round((rss[-1] - rss[0]) / rss[0] * 100, 2),
        }
        private = [s.private[name] / MIB for s in inside if name in s.private]
        if len(private) >= 2 and private[0] > 0:
            middle = private[len(private) // 2]
            nodes[name].update(
                {
                    "private_mib_start": round(private[0], 1),
                    "private_mib_middle": round(middle, 1),
                    "private_mib_end": round(private[-1], 1),
                    "private_growth_pct": round((private[-1] - private[0]) / private[0] * 100, 2),
                    "private_growth_second_half_pct": round(
                        (private[-1] - middle) / middle * 100, 2
                    ),
                }
            )
    generator = last.generator_cpu_s - first.generator_cpu_s + signing_cpu_s
    machine = last.machine_busy_s - first.machine_busy_s
    figures: dict[str, Any] = {
        "nodes": nodes,
        "generator_cpu_cores": round(generator / span, 3),
        "machine_cpu_cores": round(machine / span, 3),
    }
    if nodes:
        figures["nodes_cpu_cores"] = round(node_cpu / span, 3)
        figures["other_processes_cpu_cores"] = round((machine - node_cpu - generator) / span, 3)
    return figures


def compute_series(
    log: SendLog,
    blocks: Sequence[BlockSeen],
    samples: Sequence[ResourceSample],
    origin_s: float,
    end_s: float,
    *,
    is_query: bool = False,
    bucket_s: float = 1.0,
) -> dict[str, Any]:
    """Per-``bucket_s`` series from ``origin_s`` to ``end_s`` for the charts.

    ``t_s`` is each bucket's start less ``origin_s``; rates are per second;
    latency percentiles are of the transactions *sent* in the bucket.
    """
    buckets = max(1, math.ceil((end_s - origin_s) / bucket_s))

    def index(t: float) -> int | None:
        i = int((t - origin_s) // bucket_s)
        return i if 0 <= i < buckets else None

    submitted, accepted, committed = [0] * buckets, [0] * buckets, [0] * buckets
    latencies: list[list[float]] = [[] for _ in range(buckets)]
    if is_query:
        for r in log.requests:
            i = index(r.sent_s)
            if i is not None:
                submitted[i] += 1
                if r.ok:
                    accepted[i] += 1
                    committed[i] += 1
                    latencies[i].append((r.answered_s - r.sent_s) * 1000)
    else:
        _tx_series(log, blocks, index, submitted, accepted, committed, latencies)
    rate = 1 / bucket_s
    series: dict[str, Any] = {
        "t_s": [round(i * bucket_s, 3) for i in range(buckets)],
        "submitted_per_s": [n * rate for n in submitted],
        "accepted_per_s": [n * rate for n in accepted],
        "committed_per_s": [n * rate for n in committed],
    }
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        series[f"latency_ms_{name}"] = [
            round(percentile(sorted(v), q), 1) if v else None for v in latencies
        ]
    series.update(_resource_series(samples, origin_s, end_s))
    return series


def _tx_series(
    log: SendLog,
    blocks: Sequence[BlockSeen],
    index: Any,
    submitted: list[int],
    accepted: list[int],
    committed: list[int],
    latencies: list[list[float]],
) -> None:
    commit_at, _, _ = commit_times(blocks)
    for tx_id, sent in log.sent_s.items():
        i = index(sent)
        if i is None:
            continue
        submitted[i] += 1
        if tx_id in log.accepted:
            accepted[i] += 1
        at = commit_at.get(tx_id)
        if at is not None and not math.isnan(at):
            latencies[i].append((at - sent) * 1000)
    for tx_id, at in commit_at.items():
        i = None if math.isnan(at) or tx_id not in log.sent_s else index(at)
        if i is not None:
            committed[i] += 1


def _resource_series(
    samples: Sequence[ResourceSample], origin_s: float, end_s: float
) -> dict[str, Any]:
    """Per node: cores busy between consecutive samples, and resident MiB at each sample."""
    inside = [s for s in samples if origin_s <= s.t_s <= end_s]
    names = sorted({name for s in inside for name in s.nodes})
    cpu: Mapping[str, list[float | None]] = {name: [] for name in names}
    rss: Mapping[str, list[float | None]] = {name: [] for name in names}
    private: Mapping[str, list[float | None]] = {name: [] for name in names}
    for prev, cur in itertools.pairwise(inside):
        for name in names:
            if name in prev.nodes and name in cur.nodes:
                busy = (cur.nodes[name][0] - prev.nodes[name][0]) / (cur.t_s - prev.t_s)
                cpu[name].append(round(busy, 3))
                rss[name].append(round(cur.nodes[name][1] / MIB, 1))
            else:
                cpu[name].append(None)
                rss[name].append(None)
            own = cur.private.get(name)
            private[name].append(None if own is None else round(own / MIB, 1))
    return {
        "resource_t_s": [round(s.t_s - origin_s, 3) for s in inside[1:]],
        "node_cpu_cores": dict(cpu),
        "node_rss_mib": dict(rss),
        "node_private_mib": dict(private),
    }
