"""One short real run: a fresh solo devnet, kv at a fixed rate, through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_a_short_kv_run_on_a_fresh_solo_network(tmp_path: Path) -> None:
    report = tmp_path / "solo.json"
    command = [sys.executable, "-m", "jinglian.cli", "bench", "--workload", "kv", "--rate", "100"]
    command += ["--duration", "3", "--warmup", "1", "--report", str(report), "--json"]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    head = result["headline"]
    assert result["network"] == {**result["network"], "nodes": 1, "consensus": "solo"}
    assert head["success_rate"] == 1.0
    assert head["submitted_tps"] == pytest.approx(100, rel=0.05)
    assert head["committed_tps"] == pytest.approx(100, rel=0.25)
    assert 0 < head["latency_ms_p50"] < 2000
    assert head["nodes_cpu_cores"] > 0 and head["node_rss_mib_max"] > 10
    assert "fixed" in done.stderr  # the progress display
    for name in ("solo.json", "solo.md", "solo-throughput.png", "solo-latency.png"):
        assert (tmp_path / name).is_file(), name
    # The fresh network is gone: no jinglian-bench temporary directory keeps running nodes.
    assert result["network"]["net_dir"] is None
