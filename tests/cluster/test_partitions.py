"""BFT consensus across hosts whose links are cut and healed, with continuous load.

Each test runs a fresh four-validator cluster with every node on a host of
its own (``conftest.net_cluster``): a network namespace per node where this
process may make them, else a TCP proxy per link (reported as a warning).
A partition cuts every link between its sides, in both directions. What BFT
promises with f = 1: a side holding three validators keeps committing; two
against two commit nothing and fork nothing; an isolated proposer only costs
its rounds; after healing, every node ends on the same chain
(``conftest.finish`` also checks every acknowledged transaction on every
node and ``jinglian node verify`` on each).
"""

from __future__ import annotations

import time

import pytest

from jinglian.testing.chain_checks import (
    assert_no_progress,
    assert_same_chain,
    get_block,
    get_max_height,
    wait_for_height,
)
from jinglian.testing.cluster import (
    Cluster,
    compute_round0_proposer,
    get_validator_names,
)
from jinglian.testing.netns import Links
from tests.cluster.conftest import finish

pytestmark = pytest.mark.slow

ACKS_BEFORE_FAULT = 10
"""Commits acknowledged before the first partition."""
PROGRESS_BLOCKS = 5
"""Heights the chain must advance by to count as making progress."""
STALL_S = 8.0
"""How long a chain without a quorum is watched: several rounds at the test's timeouts
(propose 1 s + 0.25 s per round). Only the block whose decision was under way when the
fault hit may still commit (``slack_blocks=1``)."""
HEAL_TIMEOUT_S = 120.0
"""How long healed nodes may take to find each other again (reconnect backoff included)."""
LONG_CUT_S = 20.0
"""How long a node stays cut off in the long-cut test (TCP's retransmission waits grow past
10 s by then)."""
REJOIN_S_MAX = 20.0
"""A node cut off for ``LONG_CUT_S`` must hold the others' head this soon after healing
(measured: about 2 s; before the transport's timeouts, 24-62 s)."""
ISOLATED_BLOCKS = 12
"""Blocks the others commit while the proposer is cut off: three turns of four proposers."""


def _links(cluster: Cluster) -> Links:
    assert cluster.links is not None
    return cluster.links


def test_two_against_two_commits_nothing_and_forks_nothing_until_healed(
    net_cluster: Cluster,
) -> None:
    links = _links(net_cluster)
    nodes = net_cluster.select()
    with net_cluster.load() as load:
        load.wait_for_acks(ACKS_BEFORE_FAULT)
        links.partition(["node1", "node2"], ["node3", "node4"])
        stuck = assert_no_progress(nodes, STALL_S, slack_blocks=1)
        late = [tx for tx in load.acked if tx.height > stuck]
        assert late == [], f"commits acknowledged beyond the stuck head {stuck}: {late}"

        links.heal_all()
        wait_for_height(nodes, stuck + PROGRESS_BLOCKS, HEAL_TIMEOUT_S)
        load.wait_for_acks(10, HEAL_TIMEOUT_S)
    finish(net_cluster, load)


def test_three_keep_committing_while_one_is_cut_off_and_it_catches_up(
    net_cluster: Cluster,
) -> None:
    links = _links(net_cluster)
    majority = net_cluster.select(["node1", "node2", "node3"])
    minority = net_cluster.node("node4")
    with net_cluster.load() as load:
        load.wait_for_acks(ACKS_BEFORE_FAULT)
        links.partition(["node1", "node2", "node3"], ["node4"])
        load.aim(["node1", "node2", "node3"])
        cut_at = get_max_height(net_cluster.select())
        wait_for_height(majority, cut_at + 2 * PROGRESS_BLOCKS)
        load.wait_for_acks(10)
        assert get_max_height([minority]) <= cut_at + 1
        assert_same_chain(net_cluster.select())

        links.heal_all()
        load.aim(None)
        wait_for_height([minority], get_max_height(majority), HEAL_TIMEOUT_S)
        assert_same_chain(net_cluster.select())
    finish(net_cluster, load)


def test_isolated_proposer_costs_only_its_rounds(net_cluster: Cluster) -> None:
    links = _links(net_cluster)
    names = get_validator_names(net_cluster.net_dir)
    with net_cluster.load() as load:
        load.wait_for_acks(ACKS_BEFORE_FAULT)
        leader = compute_round0_proposer(net_cluster.net_dir, get_max_height(net_cluster.up()) + 1)
        links.isolate(leader)
        others = [n for n in net_cluster.select() if n.name != leader]
        load.aim([n.name for n in others])
        # Heights above this one were surely decided after the cut.
        cut_at = get_max_height(net_cluster.select()) + 1
        wait_for_height(others, cut_at + ISOLATED_BLOCKS)
        load.wait_for_acks(10)
        assert get_max_height([net_cluster.node(leader)]) <= cut_at

        leader_turns = [
            h
            for h in range(cut_at + 1, cut_at + ISOLATED_BLOCKS + 1)
            if compute_round0_proposer(net_cluster.net_dir, h) == leader
        ]
        assert leader_turns, "the isolated validator had no turn as proposer"
        for height in leader_turns:
            block = get_block(others[0], height)
            proposer = names[block["header"]["proposer"]]
            assert block["commit"]["round"] >= 1, (height, block["commit"]["round"])
            assert proposer != leader, (height, proposer)

        links.heal_all()
        load.aim(None)
        wait_for_height([net_cluster.node(leader)], get_max_height(others), HEAL_TIMEOUT_S)
        assert_same_chain(net_cluster.select())
    finish(net_cluster, load)


def test_node_cut_off_for_long_rejoins_within_seconds_of_healing(net_cluster: Cluster) -> None:
    # A link cut without a reset leaves TCP retransmitting with growing waits and dials
    # hanging on dropped SYNs; the transport's timeouts must notice both, so the node is
    # back within seconds of healing, not after TCP's own backoff.
    links = _links(net_cluster)
    with net_cluster.load() as load:
        load.wait_for_acks(ACKS_BEFORE_FAULT)
        links.isolate("node2")
        load.aim(["node1", "node3", "node4"])
        time.sleep(LONG_CUT_S)
        links.heal_all()
        healed = time.monotonic()
        target = get_max_height(net_cluster.select(["node1"]))
        wait_for_height([net_cluster.node("node2")], target, HEAL_TIMEOUT_S)
        rejoined_s = time.monotonic() - healed
        assert rejoined_s < REJOIN_S_MAX, f"node2 took {rejoined_s:.1f} s to rejoin"
        load.aim(None)
    finish(net_cluster, load)
