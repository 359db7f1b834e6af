"""A lying member in real processes: node4 signs two conflicting votes at every step.

Three honest validators (as OS processes, like any deployment) must keep one
history and keep committing, and put the evidence of the lie on chain. The
liar is ``python -m jinglian.testing.byzantine``: the only way to run one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinglian.client import Client, Identity
from jinglian.client.endorse import invoke_governed, local_approvers
from jinglian.client.network import load_network
from jinglian.crypto import load_certificate
from jinglian.node.init import create_network
from jinglian.testing.process import NodeProcess, find_free_ports

KV = Path(__file__).resolve().parents[2] / "examples" / "contracts" / "kv.py"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[NodeProcess]]]:
    root = tmp_path_factory.mktemp("byz") / "net"
    create_network(root, 4, api_port=find_free_ports(4), p2p_port=find_free_ports(4))
    nodes = [NodeProcess(root / "nodes" / f"node{i}") for i in (1, 2, 3)]
    nodes.append(NodeProcess(root / "nodes" / "node4", module="jinglian.testing.byzantine"))
    try:
        for node in nodes:
            node.start()
        yield root, nodes
    finally:
        for node in nodes:
            node.close()


def test_liar_cannot_fork_and_is_recorded(cluster: tuple[Path, list[NodeProcess]]) -> None:
    root, nodes = cluster
    admin = Client.from_network(root, "org1/admin")
    approvers = local_approvers(load_network(root), first_org="org1")
    invoke_governed(
        admin, "contracts", "deploy", {"name": "kv", "source": KV.read_text()}, approvers=approvers
    )
    client = Client.from_network(root, "org2/client", node="node2")
    for i in range(20):
        client.invoke("kv", "set", {"key": f"k{i}", "value": i}, timeout=60)
    liar = load_certificate((root / "nodes" / "node4" / "sign.pem").read_bytes()).cert_id.hex()
    deadline = time.monotonic() + 60
    records: list[dict[str, object]] = []
    while not records:
        assert time.monotonic() < deadline, "no misbehaviour recorded on chain"
        records = admin.query("consensus", "misbehaviour", {"validator": liar}).value
        time.sleep(0.2)
    assert records[0]["name"] == "node4"
    assert records[0]["kind"] in ("prevote", "precommit")
    # One history on every honest node, up to the lowest head.
    reader = Identity.from_network(root, "org1/admin")
    honest = [Client(n.api_url, reader) for n in nodes[:3]]
    low = min(c.get_block("latest")["height"] for c in honest)
    for height in range(1, low + 1):
        hashes = {c.get_block(height)["hash"] for c in honest}
        assert len(hashes) == 1, f"fork at height {height}"
    for i in (0, 19):
        assert honest[2].query("kv", "get", {"key": f"k{i}"}).value == i
