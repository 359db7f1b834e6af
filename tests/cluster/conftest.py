"""Fixtures for fault tests on real node processes; a failing test shows every node's log.

``cluster`` is a fresh four-validator ``tbft`` network on this host's loopback
with every node started and the ``kv`` contract deployed. ``net_cluster`` is
the same with each node on a host of its own (``jinglian.testing.netns``):
network namespaces where this process can make them, else TCP proxies, which
the test run then reports as a warning. Both stop every node, and remove the
namespaces, when the test ends, whether it passed or not.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from jinglian.testing.chain_checks import (
    assert_all_committed,
    assert_nodes_verify,
    assert_same_chain,
    wait_for_same_head,
)
from jinglian.testing.cluster import (
    KV_CONTRACT,
    AckedTx,
    Cluster,
    LoadDriver,
    get_validator_names,
    make_tbft_network,
)
from jinglian.testing.netns import Links, open_links

REPO = Path(__file__).resolve().parents[2]
KV_SOURCE = REPO / "examples" / "contracts" / "kv.py"
"""The example key-value contract the load writes to."""


@pytest.fixture(autouse=True)
def _quiet_http_log() -> Iterator[None]:
    """Keep one log line per HTTP request (thousands under load) out of failure reports."""
    logger = logging.getLogger("httpx")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


def _started(cluster: Cluster) -> Cluster:
    cluster.start_all()
    cluster.deploy(KV_CONTRACT, KV_SOURCE.read_text())
    return cluster


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Four validators on 127.0.0.1, started, with ``kv`` deployed."""
    with Cluster(make_tbft_network(tmp_path)) as running:
        yield _started(running)


@pytest.fixture()
def net_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Four validators, each on its own host of a network whose links the test can cut."""
    net_dir = make_tbft_network(tmp_path)
    with open_links(["node1", "node2", "node3", "node4"]) as links:
        _report_fallback(links)
        links.configure(net_dir)
        with Cluster(net_dir, links) as running:
            yield _started(running)


def _report_fallback(links: Links) -> None:
    if links.fallback_reason is not None:
        warnings.warn(
            f"network namespaces are not available ({links.fallback_reason}): "
            "partitions are made with TCP proxies on 127.0.0.1 instead",
            stacklevel=2,
        )


def finish(cluster: Cluster, load: LoadDriver) -> list[AckedTx]:
    """End of every fault test: stop the load, let all nodes meet, check them, stop, verify.

    Every node must then hold the same chain, every acknowledged transaction in
    the block it was acknowledged in, exit cleanly on SIGTERM and pass
    ``jinglian node verify``, whose replayed head must be the head the APIs
    agreed on; no validator may have been reported for conflicting votes.
    Returns the acknowledged transactions.
    """
    load.stop()
    nodes = cluster.select()
    height, head_hash = wait_for_same_head(nodes)
    assert_same_chain(nodes)
    acked = load.acked
    assert_all_committed(nodes, acked)
    assert_no_misbehaviour(cluster)
    exits = cluster.stop_all()
    assert exits == {name: 0 for name in cluster.names}, exits
    reports = assert_nodes_verify(nodes)
    assert {(r["height"], r["head_hash"]) for r in reports.values()} == {(height, head_hash)}
    return acked


def assert_no_misbehaviour(cluster: Cluster) -> None:
    """No honest validator signed two conflicting votes (say, after a restart): none was
    reported on chain by the others."""
    with cluster.client() as client:
        for validator, name in get_validator_names(cluster.net_dir).items():
            records = client.query("consensus", "misbehaviour", {"validator": validator}).value
            assert records == [], f"{name} signed conflicting messages: {records}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the log tail of every node of a cluster the failed test used."""
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Cluster):
                for node in value.nodes.values():
                    report.sections.append(
                        (f"node log ({node.name}, {node.state.value})", node.process.log_tail())
                    )
    return report
