"""When a node counts as behind its peers, and so drops gossiped transactions while it syncs."""

from __future__ import annotations

from jinglian.node.replica import SYNC_LAG_BLOCKS, is_behind_peers


def test_no_peers_means_not_behind() -> None:
    assert not is_behind_peers(10, [])


def test_behind_only_beyond_the_lag() -> None:
    head = 100
    assert not is_behind_peers(head, [head + SYNC_LAG_BLOCKS] * 3)
    assert is_behind_peers(head, [head + SYNC_LAG_BLOCKS + 1] * 3)


def test_one_peer_lying_about_its_head_does_not_make_a_node_behind() -> None:
    assert not is_behind_peers(100, [100, 101, 1_000_000])


def test_most_peers_ahead_make_a_node_behind() -> None:
    assert is_behind_peers(100, [100, 500, 520])
    assert is_behind_peers(100, [500])
