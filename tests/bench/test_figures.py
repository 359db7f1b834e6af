"""The figures: nearest-rank percentiles, rates over the window, latency, blocks, CPU and memory."""

from __future__ import annotations

import math
import os

import pytest

from jinglian.bench.figures import (
    MIB,
    compute_resource_figures,
    compute_series,
    compute_step_figures,
    latency_figures,
)
from jinglian.bench.load import RequestTiming, SendLog
from jinglian.bench.observe import ResourceSample, process_private_bytes, process_rss_bytes
from jinglian.testing.loadgen.figures import percentile
from jinglian.testing.loadgen.records import BlockSeen

T0 = 1_700_000_000.0


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (0.5, 0.9, 0.99, 1.0)] == [50, 90, 99, 100]
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))
    assert latency_figures([3.0, 1.0, 2.0]) == {
        "latency_ms_p50": 2.0,
        "latency_ms_p90": 3.0,
        "latency_ms_p99": 3.0,
        "latency_ms_max": 3.0,
    }
    assert latency_figures([])["latency_ms_p50"] is None


def _ten_transactions() -> tuple[SendLog, list[BlockSeen]]:
    """Ten transactions sent 100 ms apart; the first five commit at 0.5 s, the rest at 1.2 s."""
    log = SendLog()
    ids = [bytes([i]) * 32 for i in range(10)]
    for i, tx_id in enumerate(ids):
        log.sent_s[tx_id] = T0 + i / 10
        log.accepted.add(tx_id)
        log.requests.append(RequestTiming(T0 + i / 10, T0 + i / 10, T0 + i / 10 + 0.002, True))
    blocks = [
        BlockSeen(1, 5, int((T0 + 0.45) * 1000), T0 + 0.5, tuple(ids[:5])),
        BlockSeen(2, 5, int((T0 + 1.15) * 1000), T0 + 1.2, tuple(ids[5:])),
    ]
    return log, blocks


def test_rates_success_and_latency_over_the_window() -> None:
    log, blocks = _ten_transactions()
    figures = compute_step_figures(log, blocks, (T0, T0 + 1.0))
    assert figures["submitted"] == 10
    assert figures["submitted_tps"] == 10.0
    assert figures["accepted_tps"] == 10.0
    # Only the first block's commit event falls inside the one-second window.
    assert figures["committed_tps"] == 5.0
    assert figures["success_rate"] == 1.0
    # Latencies: 500, 400, 300, 200, 100 and 700, 600, 500, 400, 300 ms.
    assert figures["latency_ms_p50"] == 400.0
    assert figures["latency_ms_p90"] == 600.0
    assert figures["latency_ms_max"] == 700.0
    assert figures["blocks"] == 1 and figures["block_txs_mean"] == 5
    assert figures["answer_ms_p50"] == pytest.approx(2.0, abs=0.1)


def test_refused_failed_and_uncommitted_transactions_lower_success() -> None:
    log, blocks = _ten_transactions()
    busy, gone = b"\xaa" * 32, b"\xbb" * 32
    log.sent_s[busy] = log.sent_s[gone] = T0 + 0.3
    log.refused[busy] = "busy"
    log.accepted.add(gone)
    blocks[0] = BlockSeen(
        1, 5, blocks[0].time_ms, T0 + 0.5, blocks[0].tx_ids, (blocks[0].tx_ids[0],)
    )
    figures = compute_step_figures(log, blocks, (T0, T0 + 1.0), digests_per_tx=100)
    assert figures["submitted"] == 12
    assert figures["committed_ok"] == 9
    assert figures["committed_failed"] == 1
    assert figures["accepted_not_committed"] == 1
    assert figures["refused"] == {"busy": 1}
    assert figures["success_rate"] == pytest.approx(9 / 12, abs=1e-4)
    assert figures["digests_per_s"] == 500.0


def test_a_block_the_stream_missed_counts_without_latency() -> None:
    log, blocks = _ten_transactions()
    blocks[1] = BlockSeen(2, 5, blocks[1].time_ms, math.nan, blocks[1].tx_ids)
    figures = compute_step_figures(log, blocks, (T0, T0 + 1.0))
    assert figures["success_rate"] == 1.0
    assert figures["latency_missing"] == 5
    assert figures["latency_samples"] == 5


def test_cpu_and_memory_of_each_node() -> None:
    samples = [
        ResourceSample(T0, {"node1": (10.0, 100 * MIB)}, 1.0, 50.0),
        ResourceSample(T0 + 1, {"node1": (10.4, 104 * MIB)}, 1.1, 51.0),
        ResourceSample(T0 + 2, {"node1": (11.0, 110 * MIB)}, 1.2, 52.0),
    ]
    figures = compute_resource_figures(samples, (T0, T0 + 2), signing_cpu_s=0.2)
    node = figures["nodes"]["node1"]
    assert node["cpu_cores"] == 0.5
    assert node["rss_mib_start"] == 100 and node["rss_mib_end"] == 110
    assert node["rss_growth_pct"] == 10.0
    assert figures["generator_cpu_cores"] == pytest.approx(0.2)
    assert figures["machine_cpu_cores"] == 1.0
    assert figures["other_processes_cpu_cores"] == pytest.approx(0.3)


def test_private_memory_apart_from_the_mapped_store() -> None:
    samples = [
        ResourceSample(T0, {"node1": (10.0, 300 * MIB)}, 1.0, 50.0, {"node1": 100 * MIB}),
        ResourceSample(T0 + 1, {"node1": (10.4, 400 * MIB)}, 1.1, 51.0, {"node1": 102 * MIB}),
        ResourceSample(T0 + 2, {"node1": (11.0, 500 * MIB)}, 1.2, 52.0, {"node1": 105 * MIB}),
    ]
    node = compute_resource_figures(samples, (T0, T0 + 2), signing_cpu_s=0.0)["nodes"]["node1"]
    assert node["rss_growth_pct"] == pytest.approx(66.67)
    assert (node["private_mib_start"], node["private_mib_end"]) == (100, 105)
    assert node["private_growth_pct"] == 5.0
    assert node["private_mib_middle"] == 102
    assert node["private_growth_second_half_pct"] == pytest.approx(2.94)
    series = compute_series(SendLog(), [], samples, T0, T0 + 2.0)
    assert series["node_private_mib"] == {"node1": [102.0, 105.0]}
    assert series["node_rss_mib"] == {"node1": [400.0, 500.0]}


def test_private_memory_of_this_process() -> None:
    private = process_private_bytes(os.getpid())
    assert 0 < private <= process_rss_bytes(os.getpid())


def test_series_per_second() -> None:
    log, blocks = _ten_transactions()
    series = compute_series(log, blocks, [], T0, T0 + 2.0)
    assert series["t_s"] == [0.0, 1.0]
    assert series["submitted_per_s"] == [10, 0]
    assert series["committed_per_s"] == [5, 5]
    assert series["latency_ms_p50"][0] == 400.0
