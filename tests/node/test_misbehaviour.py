"""Equivocation evidence on chain: the ``consensus`` system contract and the node's reports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinglian.client import Identity
from jinglian.node.config import load_node_config
from jinglian.node.init import create_network
from jinglian.node.local import LocalServices
from jinglian.node.node import Node
from jinglian.types import Tx
from jinglian.types.consensus import Vote, encode_vote, vote_sign_bytes_of
from jinglian.types.errors import InvalidInput, PermissionDenied

CHAIN = "jinglian-dev"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("net") / "net"
    create_network(root, 2, consensus="solo", api_port=18_760, p2p_port=19_760)
    return root


@pytest.fixture(scope="module")
def node(network: Path) -> Iterator[Node]:
    node = Node(load_node_config(network / "nodes" / "node1"))
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def services(node: Node) -> LocalServices:
    return LocalServices(node)


def vote(node: Node, height: int, block: bytes, round_: int = 0, key: object = None) -> Vote:
    unsigned = Vote("precommit", height, round_, block, node.cert.cert_id, b"")
    signer = key or node.key
    signature = signer.sign(vote_sign_bytes_of(CHAIN, unsigned))  # type: ignore[attr-defined]
    return Vote("precommit", height, round_, block, node.cert.cert_id, signature)


def submit(services: LocalServices, tx: Tx) -> str:
    services.submit_tx(tx.encoded)
    record = asyncio.run(services.wait_tx(tx.id, 10))
    return record.receipt.status


def report(admin: Identity, first: Vote, second: Vote) -> Tx:
    args = {"first": encode_vote(first), "second": encode_vote(second), "kind": "vote"}
    return admin.sign_tx(CHAIN, "consensus", "report_misbehaviour", args)


def wait_for(predicate, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_node_puts_a_double_vote_on_chain(node: Node, services: LocalServices) -> None:
    first, second = vote(node, 5, b"\x01" * 32), vote(node, 5, b"\x02" * 32)
    node.record_misbehaviour(first, second)
    validator = {"validator": node.cert.cert_id.hex()}

    def recorded() -> bool:
        return bool(services.query("consensus", "misbehaviour", validator, None, False).value)

    wait_for(recorded)
    [record] = services.query("consensus", "misbehaviour", validator, None, prove=True).value
    assert (record["height"], record["round"], record["kind"]) == (5, 0, "precommit")
    assert record["first"] == encode_vote(first) and record["second"] == encode_vote(second)
    assert record["name"] == "node1"
    assert record["reported_by"] == node.cert.cert_id.hex()
    # The same offence again (another node's report) is refused as a duplicate.
    admin = Identity.from_network(node.config.root.parent.parent, "org1/admin")
    assert submit(services, report(admin, first, second)) == InvalidInput.code


def test_reports_rate_limited_per_validator(node: Node) -> None:
    before = len(node.misbehaviour)
    node.record_misbehaviour(vote(node, 9, b"\x01" * 32), vote(node, 9, b"\x03" * 32))
    assert len(node.misbehaviour) == before


def test_bad_evidence_refused(node: Node, services: LocalServices, network: Path) -> None:
    admin = Identity.from_network(network, "org1/admin")
    client = Identity.from_network(network, "org2/client")
    a = vote(node, 7, b"\x01" * 32)
    forged = Vote(a.kind, a.height, a.round, b"\x02" * 32, a.validator, a.signature)
    not_validator = [
        Vote("precommit", 7, 0, h, client.cert_id, b"") for h in (b"\x01" * 32, b"\x02" * 32)
    ]
    not_validator = [
        Vote(
            v.kind,
            v.height,
            v.round,
            v.block_hash,
            v.validator,
            client.key.sign(vote_sign_bytes_of(CHAIN, v)),
        )
        for v in not_validator
    ]
    cases = [
        (a, vote(node, 7, b"\x01" * 32)),  # same block: no conflict
        (a, vote(node, 8, b"\x02" * 32)),  # different heights
        (a, vote(node, 7, b"\x02" * 32, round_=1)),  # different rounds
        (a, forged),  # the second signature does not verify
        (not_validator[0], not_validator[1]),  # signer is not a validator
    ]
    for first, second in cases:
        assert submit(services, report(admin, first, second)) == InvalidInput.code
    garbage = admin.sign_tx(
        CHAIN, "consensus", "report_misbehaviour", {"first": b"\x00", "second": b"\xff"}
    )
    assert submit(services, garbage) == InvalidInput.code
    wrong_kind = admin.sign_tx(
        CHAIN,
        "consensus",
        "report_misbehaviour",
        {"first": encode_vote(a), "second": encode_vote(a), "kind": "gossip"},
    )
    assert submit(services, wrong_kind) == InvalidInput.code


def test_consensus_identity_may_only_report(node: Node, services: LocalServices) -> None:
    own = node._sign_own_tx("contracts", "list", {})
    with pytest.raises(PermissionDenied):
        services.submit_tx(own.encoded)
