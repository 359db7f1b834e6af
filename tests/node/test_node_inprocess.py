"""A solo node in this process: services, waiting, events, queries with proofs, restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinglian.client import Identity
from jinglian.crypto.state_proof import decode_state_proof, verify_state_proof
from jinglian.ledger.keys import state_key
from jinglian.node.config import load_node_config
from jinglian.node.init import create_network
from jinglian.node.local import LocalServices
from jinglian.node.node import Node
from jinglian.node.services import EventFilter
from jinglian.node.verify import verify_node_dir
from jinglian.types import Tx, codec
from jinglian.types.errors import (
    CertificateRevoked,
    ContractFailed,
    DuplicateTransaction,
    InvalidInput,
    NotFound,
    PolicyNotSatisfied,
    ReadOnlyViolation,
    Timeout,
    TransactionExpired,
)

KV_SOURCE = (Path(__file__).resolve().parents[2] / "examples" / "contracts" / "kv.py").read_text()


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("net") / "net"
    create_network(root, 2, consensus="solo", api_port=18_700, p2p_port=19_700)
    return root


@pytest.fixture(scope="module")
def node(network: Path) -> Iterator[Node]:
    node = Node(load_node_config(network / "nodes" / "node1"))
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def services(node: Node) -> LocalServices:
    services = LocalServices(node)
    admin = Identity.from_network(node.config.root.parent.parent, "org1/admin")
    # Two organisations: deploying needs a majority of their admins, so both endorse.
    other = Identity.from_network(node.config.root.parent.parent, "org2/admin")
    deploy = other.endorse(sign(admin, "contracts", "deploy", {"name": "kv", "source": KV_SOURCE}))
    assert run(submit_and_wait(services, deploy)).receipt.ok
    return services


def sign(
    identity: Identity, contract: str, method: str, args: dict[str, object], **kw: object
) -> Tx:
    return identity.sign_tx("jinglian-dev", contract, method, args, **kw)  # type: ignore[arg-type]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def submit_and_wait(services: LocalServices, tx: Tx, timeout_s: float = 10):  # type: ignore[no-untyped-def]
    tx_id = services.submit_tx(tx.encoded)
    assert tx_id == tx.id
    return await services.wait_tx(tx_id, timeout_s)


@pytest.fixture(scope="module")
def admin(network: Path) -> Identity:
    return Identity.from_network(network, "org1/admin")


def test_invoke_commits_and_proves(services: LocalServices, admin: Identity) -> None:
    record = run(submit_and_wait(services, sign(admin, "kv", "set", {"key": "a", "value": "x"})))
    assert record.receipt.ok and record.height >= 2
    assert record.header.tx_count >= 1
    result = services.query("kv", "get", {"key": "a"}, None, prove=True)
    assert result.value == "x"
    assert result.header is not None
    key = state_key("kv", "a")
    read = next(r for r in result.reads if r.key == key)
    assert read.value == codec.encode("x")
    assert verify_state_proof(
        services.ledger.suite_hash,
        result.header.state_root,
        key,
        read.value,
        decode_state_proof(read.proof),
    )


def test_historical_query_and_state(services: LocalServices, admin: Identity) -> None:
    first = run(submit_and_wait(services, sign(admin, "kv", "set", {"key": "h", "value": 1})))
    run(submit_and_wait(services, sign(admin, "kv", "set", {"key": "h", "value": 2})))
    assert services.query("kv", "get", {"key": "h"}, first.height, prove=False).value == 1
    assert services.query("kv", "get", {"key": "h"}, None, prove=False).value == 2
    record, header, _ = services.get_state(state_key("kv", "h"), first.height)
    assert record.value == codec.encode(1) and header.height == first.height


def test_invalid_query_inputs(services: LocalServices) -> None:
    with pytest.raises(NotFound):
        services.query("kv", "get", {"key": "a"}, 10_000, prove=False)
    with pytest.raises(ReadOnlyViolation):
        services.query("kv", "set", {"key": "a", "value": 1}, None, prove=False)
    with pytest.raises(NotFound):
        services.query("nosuch", "get", {}, None, prove=False)
    with pytest.raises(InvalidInput):
        services.query("kv", "get", {"wrong": 1}, None, prove=False)


def test_invalid_replay_refused(services: LocalServices, admin: Identity) -> None:
    tx = sign(admin, "kv", "set", {"key": "r", "value": 1})
    run(submit_and_wait(services, tx))
    with pytest.raises(DuplicateTransaction):
        services.submit_tx(tx.encoded)


def test_failed_call_commits_failed_receipt(services: LocalServices, admin: Identity) -> None:
    record = run(submit_and_wait(services, sign(admin, "kv", "get", {"nope": 1})))
    assert record.receipt.status == "invalid_input"
    assert record.receipt.result is None


def test_invalid_expiring_tx_reports_drop_or_refusal(
    services: LocalServices, admin: Identity
) -> None:
    now_ms = time.time_ns() // 1_000_000
    tx = admin.sign_tx("jinglian-dev", "kv", "set", {"key": "e", "value": 1}, expiry_s=0)
    with pytest.raises(TransactionExpired):
        services.submit_tx(tx.encoded) if tx.body.expires_ms < now_ms else run(
            submit_and_wait(services, tx)
        )


def test_wait_timeout_for_unknown_tx(services: LocalServices) -> None:
    with pytest.raises(Timeout):
        run(services.wait_tx(b"\x00" * 32, 0.2))


def test_subscription_sees_blocks_and_events(services: LocalServices, admin: Identity) -> None:
    async def scenario() -> list[str]:
        stream = services.subscribe(EventFilter(blocks=True, contract="kv", topic="set"))
        seen: list[str] = []

        async def collect() -> None:
            async for item in stream:
                seen.append(item.kind)
                if "event" in seen and "block" in seen:
                    return

        task = asyncio.create_task(collect())
        await asyncio.sleep(0.05)
        await submit_and_wait(services, sign(admin, "kv", "set", {"key": "s", "value": 1}))
        await asyncio.wait_for(task, 5)
        return seen

    assert set(run(scenario())) == {"block", "event"}


def test_metrics_and_health(services: LocalServices) -> None:
    text = services.metrics_text().decode()
    assert "jinglian_block_height" in text and "jinglian_txs_committed_total" in text
    assert services.health()["status"] == "ok"


def test_contract_failure_reported_to_sdk_shape(
    services: LocalServices, admin: Identity, network: Path
) -> None:
    source = "from jinglian.contract import invoke\n\n@invoke\ndef boom(ctx):\n    ctx.fail('no')\n"
    deploy = sign(admin, "contracts", "deploy", {"name": "boom", "source": source})
    deploy = Identity.from_network(network, "org2/admin").endorse(deploy)
    assert run(submit_and_wait(services, deploy)).receipt.ok
    record = run(submit_and_wait(services, sign(admin, "boom", "boom", {})))
    assert record.receipt.status == ContractFailed.code


def test_restart_keeps_chain_and_verifies(tmp_path: Path) -> None:
    root = tmp_path / "net"
    create_network(root, 1, consensus="solo", api_port=18_710, p2p_port=19_710)
    config = load_node_config(root / "nodes" / "node1")
    node = Node(config)
    node.start()
    admin = Identity.from_network(root, "org1/admin")
    services = LocalServices(node)
    run(
        submit_and_wait(
            services, sign(admin, "contracts", "deploy", {"name": "kv", "source": KV_SOURCE})
        )
    )
    run(submit_and_wait(services, sign(admin, "kv", "set", {"key": "k", "value": 7})))
    head = node.ledger.head()
    node.stop()
    report = verify_node_dir(root / "nodes" / "node1")
    assert (report.height, report.head_hash, report.txs) == (head.height, head.hash, 2)
    again = Node(config)
    try:
        assert again.ledger.head() == head
        assert LocalServices(again).query("kv", "get", {"key": "k"}, None, prove=False).value == 7
    finally:
        again.stop()


def test_revoked_certificate_refused_from_next_block(
    services: LocalServices, network: Path
) -> None:
    admin = Identity.from_network(network, "org1/admin")
    client = Identity.from_network(network, "org1/client")
    run(submit_and_wait(services, sign(client, "kv", "set", {"key": "c", "value": 1})))
    pending = sign(client, "kv", "set", {"key": "c", "value": 2})
    cert_id = client.cert.cert_id.hex()
    record = run(
        submit_and_wait(
            services, sign(admin, "identity", "revoke", {"cert_id": cert_id, "reason": "key lost"})
        )
    )
    assert record.receipt.ok
    assert (
        services.query("identity", "revoked", {"cert_id": cert_id}, None, prove=False).value[
            "reason"
        ]
        == "key lost"
    )
    with pytest.raises(CertificateRevoked):
        services.submit_tx(pending.encoded)
    assert services.query("kv", "get", {"key": "c"}, None, prove=False).value == 1


def test_invalid_revocations(services: LocalServices, network: Path) -> None:
    org1_admin = Identity.from_network(network, "org1/admin")
    org2_admin = Identity.from_network(network, "org2/admin")
    org2_client = Identity.from_network(network, "org2/client")
    run(submit_and_wait(services, sign(org2_client, "kv", "set", {"key": "o2", "value": 1})))
    target = {"cert_id": org2_client.cert.cert_id.hex()}
    cases = [
        (org1_admin, target, PolicyNotSatisfied.code),  # another organisation's certificate
        (org2_client, target, PolicyNotSatisfied.code),  # not an admin
        (org2_admin, {"cert_id": "zz"}, InvalidInput.code),
        (org2_admin, {"cert_id": "ab" * 32}, NotFound.code),  # never registered, not given in full
    ]
    for identity, args, code in cases:
        record = run(submit_and_wait(services, sign(identity, "identity", "revoke", args)))
        assert record.receipt.status == code, (args, record.receipt)
    assert services.query("identity", "revoked", target, None, prove=False).value is None


def test_chain_config_readable_and_provable(services: LocalServices, network: Path) -> None:
    result = services.query("chain_config", "orgs", {}, None, prove=True)
    assert [o["id"] for o in result.value] == ["org1", "org2"]
    assert result.header is not None
    read = result.reads[0]
    assert verify_state_proof(
        services.ledger.suite_hash,
        result.header.state_root,
        read.key,
        read.value,
        decode_state_proof(read.proof),
    )
    assert (
        services.query("chain_config", "params", {}, None, prove=False).value["block_txs_max"] > 0
    )
