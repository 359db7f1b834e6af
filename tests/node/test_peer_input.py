"""Bad input on the peer wire: three in-process validators of a four-validator chain keep
their place in consensus while a member (node4's identity) and a stranger send them junk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jinglian.client import Identity
from jinglian.crypto import get_suite, load_certificate
from jinglian.ledger import build_block
from jinglian.network import PeerClient, load_peer_tls
from jinglian.network.messages import (
    MessageType,
    Status,
    SyncRequest,
    encode_status,
    encode_sync_request,
    encode_txs,
    encode_vote_message,
)
from jinglian.node.config import load_node_config
from jinglian.node.init import create_network
from jinglian.node.local import LocalServices
from jinglian.node.node import Node
from jinglian.testing.process import find_free_ports
from jinglian.types import codec
from jinglian.types.consensus import Proposal, Vote, vote_sign_bytes_of
from jinglian.types.errors import Busy

CHAIN = "jinglian-dev"


@dataclass
class Cluster:
    root: Path
    nodes: list[Node]
    services: LocalServices


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("net") / "net"
    create_network(root, 4, api_port=find_free_ports(4), p2p_port=find_free_ports(4))
    nodes = [Node(load_node_config(root / "nodes" / f"node{i}")) for i in (1, 2, 3)]
    for node in nodes:
        node.start()
    try:
        yield Cluster(root, nodes, LocalServices(nodes[0]))
    finally:
        for node in nodes:
            node.stop()


def commit_one(cluster: Cluster) -> int:
    client = Identity.from_network(cluster.root, "org1/client")
    tx = client.sign_tx(CHAIN, "contracts", "list", {})
    cluster.services.submit_tx(tx.encoded)
    record = asyncio.run(cluster.services.wait_tx(tx.id, 30))
    assert record.height is not None
    return record.height


def heights(cluster: Cluster) -> list[int]:
    return [node.ledger.head().height for node in cluster.nodes]


def wait_until(predicate, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def send_all(tls_dir: Path, port: int, frames: list[tuple[int, bytes]]) -> PeerClient:
    async def go() -> PeerClient:
        client = PeerClient(load_peer_tls(tls_dir), "127.0.0.1", port)
        client.start()
        await asyncio.wait_for(client.connected.wait(), 10)
        for message_type, payload in frames:
            while True:
                try:
                    client.send(message_type, payload)
                    break
                except Busy:
                    await asyncio.sleep(0.01)
        for _ in range(200):
            if client.stats.frames_sent >= len(frames):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        await client.close()
        return client

    return asyncio.run(go())


def test_junk_from_a_member_is_dropped_and_consensus_goes_on(cluster: Cluster) -> None:
    first = commit_one(cluster)
    node1 = cluster.nodes[0]
    attacker_dir = cluster.root / "nodes" / "node4"
    attacker = load_node_config(attacker_dir)
    key = get_suite("default").load_private_key((attacker_dir / "sign.key").read_bytes())
    node4_id = load_certificate((attacker_dir / "sign.pem").read_bytes()).cert_id
    head = node1.ledger.head().height

    def signed_vote(height: int, round_: int, block: bytes) -> Vote:
        unsigned = Vote("prevote", height, round_, block, node4_id, b"")
        return Vote(
            "prevote",
            height,
            round_,
            block,
            node4_id,
            key.sign(vote_sign_bytes_of(CHAIN, unsigned)),
        )

    good = signed_vote(head + 1, 0, b"\x07" * 32)
    bad_signature = Vote(good.kind, good.height, good.round, b"\x08" * 32, node4_id, good.signature)
    frames: list[tuple[int, bytes]] = [
        (99, b"unknown type"),
        (MessageType.VOTE, b"\xff\x00garbage"),
        (MessageType.STATUS, codec.encode_trusted({"height": -1})),
        (MessageType.TXS, codec.encode_trusted([b"not a tx"] * 3)),
        (MessageType.TXS, encode_txs([]) + b"trailing"),
        (MessageType.PROPOSAL, codec.encode_trusted({"proposal": b"x"})),
        (MessageType.BLOCK, b"\x00" * 100),
        (MessageType.SYNC_BLOCKS, codec.encode_trusted([[b"a", b"b"]])),
        (MessageType.SYNC_REQUEST, encode_sync_request(SyncRequest(1, 64))[:-1]),
        (MessageType.EVIDENCE, codec.encode_trusted([1, 2])),
        (MessageType.GET_BLOCK, codec.encode_trusted({"hash": b"short"})),
        (MessageType.VOTE, encode_vote_message(bad_signature)),
        (MessageType.VOTE, encode_vote_message(signed_vote(head + 1, 10**5, b"\x07" * 32))),
        (MessageType.VOTE, encode_vote_message(signed_vote(10**9, 0, b"\x07" * 32))),
        (MessageType.VOTE, encode_vote_message(signed_vote(1, 0, b"\x07" * 32))),  # stale
        (MessageType.VOTE, encode_vote_message(good)),
        (MessageType.VOTE, encode_vote_message(good)),  # replayed
    ]
    # A flood: many claims of a far-ahead head, each asking for block sync.
    flood = encode_status(Status(10**9, b"\x00" * 32, 0))
    frames += [(MessageType.STATUS, flood)] * 3000
    invalid_before = node1.replica.stats["messages_invalid"] if node1.replica else 0
    send_all(attacker_dir, attacker.p2p_port - 3, frames)
    assert node1.replica is not None
    wait_until(lambda: node1.replica.stats["messages_invalid"] >= invalid_before + 10)  # type: ignore[union-attr]
    second = commit_one(cluster)
    assert second > first
    wait_until(lambda: len(set(heights(cluster))) == 1)
    hashes = {node.ledger.head().hash for node in cluster.nodes}
    assert len(hashes) == 1


def test_stranger_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    other = tmp_path / "other"
    create_network(other, 1, api_port=find_free_ports(1), p2p_port=find_free_ports(1))
    node1 = cluster.nodes[0]
    port = node1.config.p2p_port

    async def go() -> None:
        client = PeerClient(load_peer_tls(other / "nodes" / "node1"), "127.0.0.1", port)
        client.start()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.connected.wait(), 2)
        await client.close()

    asyncio.run(go())
    assert commit_one(cluster) > 0


def test_consensus_figures_are_in_metrics(cluster: Cluster) -> None:
    text = cluster.services.metrics_text().decode()
    assert 'jinglian_consensus{figure="peers"} 2.0' in text
    assert 'jinglian_consensus{figure="messages_invalid"}' in text
    assert 'jinglian_consensus{figure="round"}' in text


def test_reproposed_block_keeps_its_original_proposer(cluster: Cluster) -> None:
    # A locked block proposed again in a later round (pol_round >= 0) was built by the
    # proposer of an earlier round; judging it by the new proposer stalled the chain.
    node1, node2, node3 = cluster.nodes
    replica = node1.replica
    assert replica is not None
    built = build_block(node1.ledger, [], time.time_ns() // 1_000_000, node2.cert.cert_id)
    replica._bodies[built.hash] = built.block
    height = built.block.header.height
    again = Proposal(height, 1, built.hash, 0, node3.cert.cert_id, b"s")
    fresh = Proposal(height, 1, built.hash, -1, node3.cert.cert_id, b"s")
    assert replica.check_block(fresh) is False
    replica._invalid.clear()
    assert replica.check_block(again) is True
