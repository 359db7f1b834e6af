"""Fixtures of the bench tests: a network directory for keys, and runs against the fake chain."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from jinglian.bench.config import BenchConfig
from jinglian.bench.network import Target
from jinglian.bench.run import Runner
from jinglian.bench.workloads import get_workload
from jinglian.client import load_network
from jinglian.testing.process import make_solo_network


@pytest.fixture(scope="module")
def keys_net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A solo network directory, never started: its identities sign the transactions."""
    return make_solo_network(tmp_path_factory.mktemp("bench"))


def fake_target(net_dir: Path, url: str) -> Target:
    """``url`` (a fake chain) as the target; this test process stands in as ``node1``, so that
    CPU and memory sampling has a real process to read."""
    network = load_network(net_dir)
    return Target(
        net_dir=net_dir,
        endpoints=(url,),
        pids={"node1": os.getpid()},
        chain_id=network.chain_id,
        crypto=network.crypto,
        consensus=network.consensus,
        nodes=1,
        fresh=False,
    )


def run_against(net_dir: Path, url: str, **options: Any) -> tuple[Runner, dict[str, Any]]:
    """Run ``jinglian bench``'s runner with ``options`` against the fake chain at ``url``."""
    config = BenchConfig(workers=1, drain_timeout_s=10.0, endpoint=url, **options)
    runner = Runner(config, get_workload(config.workload), fake_target(net_dir, url))
    outcome = asyncio.run(runner.run())
    return runner, outcome
