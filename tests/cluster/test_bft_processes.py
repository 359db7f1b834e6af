"""BFT consensus across real node processes under process faults, with continuous load.

Each test runs a fresh four-validator cluster (``conftest.cluster``, f = 1),
keeps a ``LoadDriver`` submitting ``kv.set`` transactions to the nodes that are
up, injects one kind of fault and checks what BFT promises: with one
validator faulty the others keep committing; with two, nothing commits and
nothing forks until one comes back; a node that was killed, wiped or paused
comes back to the same chain. ``conftest.finish`` then checks that every
acknowledged transaction is on every node, in the block it was acknowledged
in, and that ``jinglian node verify`` passes on each stopped node.
"""

from __future__ import annotations

import time

import httpx
import pytest

from jinglian.testing.chain_checks import (
    assert_no_progress,
    assert_same_chain,
    get_max_height,
    wait_for_height,
)
from jinglian.testing.cluster import (
    Cluster,
)
from tests.cluster.conftest import finish

pytestmark = pytest.mark.slow

ACKS_BEFORE_FAULT = 20
"""Commits acknowledged before the first fault."""
PROGRESS_BLOCKS = 5
"""Heights the chain must advance by to count as making progress."""
STALL_S = 8.0
"""How long a chain without a quorum is watched: several rounds at the test's timeouts
(propose 1 s + 0.25 s per round). Only the block whose decision was under way when the
fault hit may still commit (``slack_blocks=1``)."""
PAUSE_S_MIN = 6.0
"""A paused validator stays paused at least this long (several rounds)."""
PAUSE_BLOCKS = 8
"""...and while the others commit this many blocks, so it misses its turns as proposer."""


def _max_head(cluster: Cluster, names: list[str] | None = None) -> int:
    """The highest head among ``names`` (default: the nodes that are up)."""
    return get_max_height(cluster.up() if names is None else cluster.select(names))


def test_killed_validator_is_not_needed_and_catches_up_after_restart(cluster: Cluster) -> None:
    with cluster.load() as load:
        load.wait_for_acks(ACKS_BEFORE_FAULT)
        cluster.kill("node4")
        live = cluster.up()
        wait_for_height(live, _max_head(cluster) + PROGRESS_BLOCKS)
        load.wait_for_acks(ACKS_BEFORE_FAULT)

        cluster.start("node4")
        wait_for_height([cluster.node("node4")], _max_head(cluster, ["node1", "node2"]))
        assert_same_chain(cluster.select())
        load.wait_for_acks(10)
    finish(cluster, load)


def test_two_killed_validators_halt_the_chain_without_fork_until_one_returns(
    cluster: Cluster,
) -> None:
    with cluster.load() as load:
        load.wait_for_acks(ACKS_BEFORE_FAULT)
        cluster.kill("node3")
        cluster.kill("node4")
        survivors = cluster.up()
        stuck = assert_no_progress(survivors, STALL_S, slack_blocks=1)
        late = [tx for tx in load.acked if tx.height > stuck]
        assert late == [], f"commits acknowledged beyond the stuck head {stuck}: {late}"

        cluster.start("node3")
        wait_for_height(cluster.up(), stuck + PROGRESS_BLOCKS)
        load.wait_for_acks(10)
        cluster.start("node4")
    finish(cluster, load)


def test_wiped_node_resyncs_the_same_chain_from_its_peers(cluster: Cluster) -> None:
    with cluster.load() as load:
        load.wait_for_acks(ACKS_BEFORE_FAULT)
        assert cluster.stop("node2") == 0
        cluster.wipe("node2")
        wait_for_height(cluster.up(), _max_head(cluster) + PROGRESS_BLOCKS)

        cluster.start("node2")
        wiped = cluster.node("node2")
        wait_for_height([wiped], _max_head(cluster, ["node1", "node3"]))
        assert_same_chain(cluster.select())
        health = httpx.get(f"{wiped.api_url}/api/v1/health", timeout=5).json()
        assert health["blocks_synced"] > 0, health
        assert health["gossip_dropped_syncing"] >= 0, health
        load.wait_for_acks(10)
    finish(cluster, load)


def test_paused_validator_rejoins_and_votes_after_sigcont(cluster: Cluster) -> None:
    with cluster.load() as load:
        load.wait_for_acks(ACKS_BEFORE_FAULT)
        paused_at = time.monotonic()
        cluster.pause("node1")
        others = cluster.up()
        wait_for_height(others, _max_head(cluster) + PAUSE_BLOCKS)
        time.sleep(max(0.0, PAUSE_S_MIN - (time.monotonic() - paused_at)))

        cluster.resume("node1")
        wait_for_height([cluster.node("node1")], _max_head(cluster, ["node2", "node3"]))
        assert_same_chain(cluster.select())
        # With node2 gone, a quorum needs node1's votes: progress shows it votes again.
        cluster.kill("node2")
        wait_for_height(cluster.up(), _max_head(cluster) + PROGRESS_BLOCKS)
        cluster.start("node2")
    finish(cluster, load)
