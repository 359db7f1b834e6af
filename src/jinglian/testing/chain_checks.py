"""Safety and progress checks over the nodes of a ``Cluster``, read through their APIs.

``wait_for_height``, ``wait_for_same_head``, ``assert_same_chain`` (same block
hash at every common height), ``assert_no_progress``, ``assert_all_committed``
(every acknowledged transaction in the same block on every node) and, once the
nodes are stopped, ``assert_nodes_verify`` (``jinglian node verify`` replays
each chain). A failed wait names every node's head and ends with their log tails.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from jinglian.client import Client, Identity
from jinglian.client.reads import ReadAuth
from jinglian.testing.cluster import (
    CHAIN_CHECK_TIMEOUT_S,
    HTTP_TIMEOUT_S,
    POLL_S,
    VERIFY_TIMEOUT_S,
    AckedTx,
    ClusterNode,
)
from jinglian.types.errors import JinglianError

READER_IDENTITY = "org1/admin"
"""The identity the checks read as."""

__all__ = [
    "assert_all_committed",
    "assert_no_progress",
    "assert_nodes_verify",
    "assert_same_chain",
    "get_block",
    "get_head",
    "get_max_height",
    "reader_auth",
    "wait_for_height",
    "wait_for_same_head",
]

_log = logging.getLogger("jinglian.testing.cluster")


def get_head(node: ClusterNode, http: httpx.Client | None = None) -> tuple[int, str | None]:
    """Height and hex hash of the node's latest block; ``(0, None)`` before the first."""
    with _http(http) as client:
        response = client.get(f"{node.api_url}/api/v1/blocks/latest", auth=reader_auth(node))
    if response.status_code == 404:
        return 0, None
    response.raise_for_status()
    block = response.json()
    return int(block["height"]), str(block["hash"])


@functools.lru_cache(maxsize=16)
def _network_reader(net_dir: Path) -> ReadAuth:
    return ReadAuth(Identity.from_network(net_dir, READER_IDENTITY))


def reader_auth(node: ClusterNode) -> ReadAuth:
    """Signs reads of ``node``'s API as its network's ``org1/admin`` (the query policy)."""
    return _network_reader(node.node_dir.parent.parent)


def get_block(node: ClusterNode, height: int) -> dict[str, Any]:
    """The node's block at ``height`` as the API renders it (header, tx ids, receipts, commit)."""
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        response = client.get(f"{node.api_url}/api/v1/blocks/{height}", auth=reader_auth(node))
    response.raise_for_status()
    block: dict[str, Any] = response.json()
    return block


def _get_heights(nodes: Sequence[ClusterNode]) -> dict[str, int | str]:
    """Each node's head height, or the reason it could not be read."""
    heights: dict[str, int | str] = {}
    for node in nodes:
        try:
            heights[node.name] = get_head(node)[0]
        except httpx.HTTPError as exc:
            heights[node.name] = f"unreachable ({type(exc).__name__})"
    return heights


def wait_for_height(
    nodes: Sequence[ClusterNode], height: int, timeout_s: float = CHAIN_CHECK_TIMEOUT_S
) -> dict[str, int]:
    """Wait until every node's head is at least ``height``; their heads."""
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        heights = _get_heights(nodes)
        if all(isinstance(h, int) and h >= height for h in heights.values()):
            _log.info(
                "height %d reached in %.1f s: %s", height, time.monotonic() - started, heights
            )
            return {name: int(h) for name, h in heights.items()}
        if time.monotonic() > deadline:
            raise AssertionError(
                f"nodes did not reach height {height} within {timeout_s:g} s: {heights}\n"
                + _log_tails(nodes)
            )
        time.sleep(POLL_S)


def wait_for_same_head(
    nodes: Sequence[ClusterNode], timeout_s: float = CHAIN_CHECK_TIMEOUT_S
) -> tuple[int, str]:
    """Wait until every node has the same head (height and hash) and an empty pool; that head.

    Meant for a cluster without load: nodes that keep committing may never meet.
    Transactions still in a pool after the load stopped are load too: a head
    seen while they wait would be overtaken by their block.
    """
    deadline = time.monotonic() + timeout_s
    heads: dict[str, tuple[int, str | None] | str] = {}
    while time.monotonic() <= deadline:
        heads = {}
        for node in nodes:
            try:
                heads[node.name] = get_head(node)
            except httpx.HTTPError as exc:
                heads[node.name] = f"unreachable ({type(exc).__name__})"
        distinct = set(heads.values())
        if len(distinct) == 1:
            head = distinct.pop()
            if isinstance(head, tuple) and head[1] is not None and _pools_empty(nodes):
                _log.info("every node at head %d", head[0])
                return head[0], head[1]
        time.sleep(POLL_S)
    raise AssertionError(
        f"nodes did not agree on a head within {timeout_s:g} s: {heads}\n" + _log_tails(nodes)
    )


def _pools_empty(nodes: Sequence[ClusterNode]) -> bool:
    """True if no node has transactions waiting (``/health``'s ``mempool_txs``)."""
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        for node in nodes:
            try:
                health = client.get(f"{node.api_url}/api/v1/health").json()
            except (httpx.HTTPError, ValueError):
                return False
            if health.get("mempool_txs", 0) != 0:
                return False
    return True


def assert_same_chain(nodes: Sequence[ClusterNode]) -> int:
    """Every node has the same block hash at every height up to the lowest head; that height."""
    with ThreadPoolExecutor(len(nodes)) as pool:
        heads = dict(zip([n.name for n in nodes], pool.map(get_head, nodes), strict=True))
        common = min(height for height, _ in heads.values())
        chains = list(pool.map(lambda n: _block_hashes(n, common), nodes))
    for height in range(1, common + 1):
        hashes = {node.name: chain[height - 1] for node, chain in zip(nodes, chains, strict=True)}
        if len(set(hashes.values())) != 1:
            raise AssertionError(f"fork at height {height}: {hashes} (heads {heads})")
    return common


def _block_hashes(node: ClusterNode, up_to: int) -> list[str]:
    with httpx.Client(
        base_url=f"{node.api_url}/api/v1", timeout=HTTP_TIMEOUT_S, auth=reader_auth(node)
    ) as http:
        hashes = []
        for height in range(1, up_to + 1):
            response = http.get(f"/blocks/{height}")
            response.raise_for_status()
            hashes.append(str(response.json()["hash"]))
    return hashes


def assert_no_progress(
    nodes: Sequence[ClusterNode], observe_s: float, slack_blocks: int = 0
) -> int:
    """No node's head rises more than ``slack_blocks`` above the highest head at the start
    during ``observe_s`` seconds of polling, and the chains agree; the highest head at the end.

    ``slack_blocks`` admits a block whose decision was under way when the fault hit.
    """
    first = get_max_height(nodes)
    deadline = time.monotonic() + observe_s
    highest = first
    while time.monotonic() < deadline:
        highest = max(highest, get_max_height(nodes))
        if highest > first + slack_blocks:
            raise AssertionError(
                f"the chain advanced from {first} to {highest} while it should be stuck: "
                f"{_get_heights(nodes)}"
            )
        time.sleep(POLL_S)
    assert_same_chain(nodes)
    return highest


def get_max_height(nodes: Sequence[ClusterNode]) -> int:
    """The highest head among the nodes that answer (0 if none does)."""
    return max((h for h in _get_heights(nodes).values() if isinstance(h, int)), default=0)


def assert_all_committed(nodes: Sequence[ClusterNode], txs: Iterable[AckedTx]) -> int:
    """Every acknowledged transaction is committed on every node, in the block it was acked in.

    Returns how many transactions were checked.
    """
    acked = list(txs)
    with ThreadPoolExecutor(len(nodes)) as pool:
        problems = [p for found in pool.map(lambda n: _missing(n, acked), nodes) for p in found]
    if problems:
        shown = "\n".join(problems[:20])
        raise AssertionError(
            f"{len(problems)} acknowledged commits are missing or differ:\n{shown}"
        )
    return len(acked)


def _missing(node: ClusterNode, acked: Sequence[AckedTx]) -> list[str]:
    problems = []
    reader = Identity.from_network(node.node_dir.parent.parent, READER_IDENTITY)
    with Client(node.api_url, reader) as client:
        for tx in acked:
            try:
                result = client.get_tx(tx.tx_id)
            except JinglianError as exc:
                problems.append(f"{node.name}: {tx} not found ({exc.code})")
                continue
            if (result.height, result.block_hash) != (tx.height, tx.block_hash):
                problems.append(
                    f"{node.name}: {tx.tx_id} is in block {result.height} {result.block_hash}, "
                    f"acknowledged in {tx.height} {tx.block_hash} by {tx.node}"
                )
    return problems


def assert_nodes_verify(nodes: Sequence[ClusterNode]) -> dict[str, dict[str, Any]]:
    """``jinglian node verify`` passes on every (stopped) node; each one's JSON report."""
    running = [n.name for n in nodes if n.process.alive]
    if running:
        raise AssertionError(f"stop the nodes before verifying them: {running} still run")
    command = [sys.executable, "-m", "jinglian.cli", "node", "verify", "--json"]
    procs = {
        node.name: subprocess.Popen(
            [*command, str(node.node_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for node in nodes
    }
    reports: dict[str, dict[str, Any]] = {}
    failures = []
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=VERIFY_TIMEOUT_S)
        if proc.returncode != 0:
            failures.append(f"{name}: exit {proc.returncode}: {err.strip()[-2000:]}")
            continue
        reports[name] = json.loads(out)
    if failures:
        raise AssertionError("jinglian node verify failed:\n" + "\n".join(failures))
    return reports


def _log_tails(nodes: Sequence[ClusterNode], lines: int = 20) -> str:
    return "\n".join(f"--- {n.name} ---\n{n.process.log_tail(lines)}" for n in nodes)


@contextlib.contextmanager
def _http(http: httpx.Client | None) -> Iterator[httpx.Client]:
    if http is not None:
        yield http
        return
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        yield client
