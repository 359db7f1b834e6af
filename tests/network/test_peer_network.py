"""``PeerNetwork.broadcast``: what waits for a peer that is down, and what does not."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from jinglian.network.peers import PeerAddress, PeerNetwork
from jinglian.network.tls import PeerIdentity, load_peer_tls
from jinglian.node.init import create_network
from tests.network.support import HOST


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("net") / "a"
    create_network(root, 2, consensus="solo")
    return root / "nodes"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def test_connected_only_frames_are_not_kept_for_a_peer_that_is_down(nodes: Path) -> None:
    received: list[tuple[int, bytes]] = []
    arrived = threading.Condition()

    def on_message(peer: PeerIdentity, message_type: int, payload: bytes) -> None:
        with arrived:
            received.append((message_type, payload))
            arrived.notify_all()

    def wait_for(count: int) -> None:
        with arrived:
            assert arrived.wait_for(lambda: len(received) >= count, timeout=10), received

    port = _free_port()
    sender = PeerNetwork(
        load_peer_tls(nodes / "node1"), (HOST, 0), [PeerAddress(HOST, port)], lambda *_: None
    )
    sender.start()
    receiver = PeerNetwork(load_peer_tls(nodes / "node2"), (HOST, port), [], on_message)
    try:
        sender.broadcast(1, b"gossip while down", connected_only=True)
        sender.broadcast(2, b"kept for the peer")
        time.sleep(0.2)  # both are queued (or not) on the network thread before the peer is up
        receiver.start()
        wait_for(1)
        deadline = time.monotonic() + 10
        while not sender.connected_peers() and time.monotonic() < deadline:
            time.sleep(0.02)
        sender.broadcast(1, b"gossip while up", connected_only=True)
        wait_for(2)
        assert received == [(2, b"kept for the peer"), (1, b"gossip while up")]
    finally:
        sender.stop()
        receiver.stop()
