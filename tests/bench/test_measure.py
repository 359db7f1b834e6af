"""The runner measures a chain whose rate and latency are known (the fake chain)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jinglian.bench.run import run_bench
from jinglian.bench.workloads import kv_get_body
from tests.bench.conftest import run_against
from tests.bench.fake_chain import FakeChain, serve

COMMIT_DELAY_S = 0.150
TICK_S = 0.005


def test_latency_and_rates_of_signed_transactions(keys_net: Path) -> None:
    with serve(FakeChain(commit_delay_s=COMMIT_DELAY_S, tick_s=TICK_S)) as chain:
        runner, outcome = run_against(
            keys_net, chain.url, rate=200.0, duration_s=2.0, warmup_s=0.5, batch=4
        )
        taken = chain.record()["tx_arrivals"]
    assert outcome["mode"] == "fixed"
    (step,) = runner.steps
    figures = step["figures"]
    # Every transaction the fake took was one the generator signed and sent, and it committed.
    assert len(taken) == 500
    assert figures["success_rate"] == 1.0
    assert figures["submitted_tps"] == pytest.approx(200, rel=0.03)
    assert figures["accepted_tps"] == pytest.approx(200, rel=0.03)
    assert figures["committed_tps"] == pytest.approx(200, rel=0.1)
    # The injected latency is 150 ms plus at most one 5 ms tick; sending and the stream add a few.
    low = COMMIT_DELAY_S * 1000
    assert low <= figures["latency_ms_p50"] <= low + 25
    # The tail also holds the scheduling delays of a loaded 2-core CI machine (seen: +52 ms);
    # a measurement from the wrong moment would be off by the whole 150 ms or more.
    assert low <= figures["latency_ms_p99"] <= low + 120
    assert figures["latency_samples"] == figures["submitted"]
    # Requests went out on schedule: 200 tx/s in batches of 4 is a request every 20 ms.
    assert figures["send_lag_ms_p99"] < 20
    assert step["batch"] == 4
    assert step["signing_cpu_s"] > 0
    resources = step["resources"]
    assert resources["nodes"]["node1"]["rss_mib_end"] > 10
    assert resources["generator_cpu_cores"] > 0
    series = step["series"]
    assert sum(series["submitted_per_s"]) == 500


def test_query_latency_and_rate(keys_net: Path) -> None:
    with serve(FakeChain(query_delay_s=0.040)) as chain:
        runner, _ = run_against(
            keys_net, chain.url, workload="query", rate=100.0, duration_s=1.5, warmup_s=0.3
        )
    figures = runner.steps[0]["figures"]
    assert figures["success_rate"] == 1.0
    assert figures["queries_per_s"] == pytest.approx(100, rel=0.05)
    assert 40 <= figures["latency_ms_p50"] <= 60
    assert kv_get_body("k") == b'{"contract":"kv","method":"get","args":{"key":"k"}}'


def test_stress_finds_the_last_rate_before_the_chain_refuses(keys_net: Path) -> None:
    # 100 tx/s for 0.7 s is 70 transactions; the next step (150 tx/s, 105) meets a pool that
    # refuses everything past the 120th transaction, so it and the bisections after it fail.
    with serve(FakeChain(commit_delay_s=0.02, busy_after=120)) as chain:
        runner, outcome = run_against(
            keys_net, chain.url, mode="stress", rate=100.0, duration_s=0.6, warmup_s=0.1
        )
    assert outcome["max_rate"] == 100.0
    assert outcome["first_failing_rate"] < 150.0
    assert [s["passed"] for s in runner.steps] == [True, False, False, False]
    assert runner.steps[1]["figures"]["refused"]["busy"] > 0
    assert runner.steps[0]["rate"] == 100.0 and runner.steps[1]["rate"] == 150.0


def test_spike_reports_busy_and_its_checks(keys_net: Path) -> None:
    with serve(FakeChain(commit_delay_s=0.02, busy_after=150)) as chain:
        _, outcome = run_against(
            keys_net, chain.url, mode="spike", rate=100.0, duration_s=1.0, warmup_s=0.0
        )
    # Twice 100 tx/s for 1 s: 200 sent, 150 taken, 50 refused busy.
    assert outcome["rate"] == 200.0
    assert outcome["busy"] == 50
    assert outcome["committed_share"] == pytest.approx(0.75)
    assert outcome["checks"] == {
        "nodes_up_after": True,
        "committed_at_least_75%": True,
        "excess_refused_busy_only": True,
    }
    assert outcome["passed"] is True


def test_bench_refuses_bad_options_before_starting_anything(tmp_path: Path) -> None:
    from jinglian.bench.config import BenchConfig
    from jinglian.types.errors import InvalidInput

    started = time.monotonic()
    for options, message in (
        ({"workload": "nope"}, "unknown workload 'nope'"),
        ({"rate": -1.0}, "--rate must be a number"),
        ({"rate": float("nan")}, "--rate must be a number"),
        ({"nodes": 2}, "at least 4 nodes"),
        ({"nodes": 4, "consensus": "solo"}, "solo consensus runs one node"),
        ({"nodes": 3, "consensus": "tbft"}, "at least 4 nodes"),
        ({"mode": "soak"}, "unknown mode 'soak'"),
        ({"batch": 0}, "--batch must be"),
    ):
        with pytest.raises(InvalidInput, match=message):
            run_bench(BenchConfig(**options))  # type: ignore[arg-type]
    assert time.monotonic() - started < 1
