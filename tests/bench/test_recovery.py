"""``jinglian bench restart`` and ``bench sync`` measure what they say, on tiny real chains.

The figures are not checked against targets here (those live in
``docs/benchmarks.md``): only that a restart reports positive times and the
node really serves after it, and that a lagging validator is followed to the
head with the transactions it synced counted. The pure parts (catch-up
figures from height samples, the profile summary) are checked against
injected inputs with known answers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jinglian.bench.recovery import _sync_figures, run_restart, run_sync, summarize_profile
from jinglian.testing.process import find_free_ports

RESTART_TXS = 2_000
SYNC_TXS = 300


def test_catch_up_rate_counts_blocks_after_the_first_synced_one() -> None:
    # Heights 10 -> 20, ten blocks of 100 txs; first synced block seen at 1.0 s (height 12),
    # head at 2.0 s: 8 blocks (800 txs) in 1.0 s after the first one.
    samples = [(0.5, 10), (0.9, 10), (1.0, 12), (1.5, 16), (2.0, 20)]
    counts = {h: 100 for h in range(11, 21)}
    figures = _sync_figures(samples, counts, 10, 20, health_s=0.5)
    assert figures["txs_synced"] == 1_000
    assert figures["blocks_synced"] == 10
    assert figures["first_synced_height"] == 12
    assert figures["catch_up_txs"] == 800
    assert figures["catch_up_txs_per_s"] == pytest.approx(800.0)
    assert figures["catch_up_blocks_per_s"] == pytest.approx(8.0)
    assert figures["txs_per_s_from_spawn"] == pytest.approx(500.0)


def test_a_node_already_at_the_head_has_no_catch_up_rate() -> None:
    figures = _sync_figures([(0.3, 5)], {}, 5, 5, health_s=0.3)
    assert figures["catch_up_txs_per_s"] is None and figures["txs_synced"] == 0


def test_profile_summary_shares(tmp_path: Path) -> None:
    raw = tmp_path / "spy.txt"
    raw.write_text(
        "thread (0x1): consensus;run (a/node.py:10);apply (b/ledger.py:5) 3\n"
        "thread (0x1): consensus;run (a/node.py:10);verify (c/crypto.py:7) 1\n"
    )
    summary = summarize_profile(raw)
    assert summary["samples"] == 4
    assert dict(summary["inclusive"])["run (node.py)"] == 1.0
    assert dict(summary["self"]) == {"apply (ledger.py)": 0.75, "verify (crypto.py)": 0.25}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_restart_of_a_small_chain_reports_positive_times_and_serves(tmp_path: Path) -> None:
    port = find_free_ports(2)
    result = run_restart(tmp_path, RESTART_TXS, api_port=port, p2p_port=port + 1, keep=True)
    assert result["build"]["txs_sent"] == RESTART_TXS and not result["build"]["refused"]
    assert result["store_bytes"]["allocated"] > 0
    assert result["txs_on_chain"] >= RESTART_TXS
    signals = [r["signal"] for r in result["restarts"]]
    assert signals == ["SIGTERM", "SIGKILL"]
    for restart in [result["restart_before_build"], *result["restarts"]]:
        assert 0 < restart["health_s"] <= restart["latest_block_read_s"]
        assert restart["latest_block_read_s"] <= restart["new_tx_committed_s"]
    # Every restart committed one more transaction, so the chain grew past the build.
    assert result["restarts"][1]["height"] > result["restarts"][0]["height"] > 2
    assert result["serving_again_s_max"] > 0


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sync_follows_a_lagging_validator_to_the_head(tmp_path: Path) -> None:
    port = find_free_ports(8)
    result = run_sync(tmp_path, SYNC_TXS, api_port=port, p2p_port=port + 4)
    assert result["build"]["txs_sent"] == SYNC_TXS
    assert result["txs_synced"] >= SYNC_TXS
    assert result["head"] > result["start_height"]
    assert 0 < result["health_s"] <= result["reached_head_s"]
    counters = result["lagging_node"]
    assert 0 < counters["blocks_synced"] <= result["blocks_synced"]
    assert counters["messages_invalid"] == 0
    assert counters["gossip_dropped_syncing"] >= 0


def test_the_commands_are_listed() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jinglian.cli", "bench", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "restart" in done.stdout and "sync" in done.stdout
