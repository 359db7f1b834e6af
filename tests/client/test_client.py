"""The SDK against the fake node in-process: sync and async, results, typed errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from jinglian.api import create_app
from jinglian.client import AsyncClient, Client, Identity, load_network
from jinglian.types.errors import (
    ConfigError,
    ContractFailed,
    DuplicateTransaction,
    NotFound,
    OutOfGas,
    Timeout,
    UnknownContract,
)
from tests.api.fake_node import FakeNode

pytestmark = pytest.mark.filterwarnings("ignore:You should not use the .timeout. argument")


def test_invoke_waits_and_returns_the_result(sdk: Client) -> None:
    result = sdk.invoke("kv", "echo", {"a": 1, "b": b"\x01"})
    assert result.ok
    assert result.result == {"a": 1, "b": b"\x01"}
    assert result.height == 1 and result.index == 0
    assert result.gas_used == 50
    assert result.record is not None and "proof" in result.record


def test_invoke_failure_raises_the_receipt_error(sdk: Client) -> None:
    with pytest.raises(ContractFailed, match=r"no kv\.nothing") as failed:
        sdk.invoke("kv", "nothing")
    receipt = failed.value.receipt  # type: ignore[attr-defined]
    assert receipt.status == "contract_failed" and receipt.height == 1
    with pytest.raises(OutOfGas):
        sdk.invoke("kv", "burn")


def test_invoke_without_wait_is_pending(sdk: Client, node: FakeNode) -> None:
    node.hold = True
    pending = sdk.invoke("kv", "put", {"key": "a", "value": 1}, wait=False)
    assert pending.status == "pending" and pending.height is None
    with pytest.raises(NotFound):
        sdk.get_tx(pending.id)
    node.commit_pending()
    assert sdk.get_tx(pending.id, verify=True).verified


def test_wait_times_out(sdk: Client, node: FakeNode) -> None:
    node.hold = True
    with pytest.raises(Timeout):
        sdk.invoke("kv", "put", {"key": "a", "value": 1}, timeout=0.1)


def test_resubmitting_a_committed_tx_returns_its_result(
    sdk: Client, node: FakeNode, admin: Identity
) -> None:
    tx = admin.sign_tx(node.config.chain_id, "kv", "echo", {"x": 1})
    first = sdk.submit_and_wait(tx)
    with pytest.raises(DuplicateTransaction):
        sdk.submit(tx)
    again = sdk.submit_and_wait(tx)
    assert again.id == first.id and again.height == first.height


def test_reads_with_verification(sdk: Client) -> None:
    sdk.invoke("kv", "put", {"key": "k", "value": [1, 2]})
    state = sdk.get_state("kv", "k", verify=True)
    assert state.verified and state.exists and state.value == [1, 2]
    assert not sdk.get_state("kv", "missing", verify=True).exists
    query = sdk.query("kv", "get", {"key": "k"}, verify=True)
    assert query.verified and query.value == [1, 2] and query.height == 1
    assert sdk.query("kv", "get", {"key": "k"}).record.get("reads") is None
    block = sdk.get_block("latest")
    assert block["height"] == 1
    assert sdk.get_block(1) == block == sdk.get_block_by_hash(block["hash"])
    assert sdk.chain_info()["height"] == 1
    assert sdk.health()["status"] == "ok"


def test_node_errors_arrive_typed(sdk: Client) -> None:
    with pytest.raises(UnknownContract):
        sdk.query("nope", "x")
    with pytest.raises(NotFound):
        sdk.get_tx("00" * 32)
    with pytest.raises(NotFound):
        sdk.get_block(99)


def test_missing_identity_or_genesis_is_a_config_error(node: FakeNode) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app(node)) as http:
        bare = Client(str(http.base_url), http=http)
        with pytest.raises(ConfigError, match="identity"):
            bare.invoke("kv", "echo")
        with pytest.raises(ConfigError, match="genesis"):
            bare.get_state("kv", "a", verify=True)


def test_chain_id_is_fetched_when_no_genesis(node: FakeNode, admin: Identity) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app(node)) as http:
        client = Client(str(http.base_url), admin, http=http)
        assert client.invoke("kv", "echo", {"v": 1}).ok


def test_async_client(node: FakeNode, admin: Identity) -> None:
    async def run() -> None:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(node)), base_url="http://n"
        )
        async with AsyncClient("http://n", admin, node.config, http=http) as client:
            result = await client.invoke("kv", "put", {"key": "a", "value": 1})
            assert result.ok
            assert (await client.get_tx(result.id, verify=True)).verified
            assert (await client.get_state("kv", "a", verify=True)).value == 1
            assert (await client.query("kv", "get", {"key": "a"})).value == 1
            assert (await client.get_block())["height"] == 1
            with pytest.raises(ContractFailed):
                await client.invoke("kv", "nothing")

    asyncio.run(run())


def test_unreachable_node_raises_transport_error() -> None:
    with Client("http://127.0.0.1:9") as client, pytest.raises(httpx.TransportError):
        client.chain_info()


def test_from_network(network_dir: Path) -> None:
    client = Client.from_network(network_dir, identity="org2/client", node="node3")
    assert client.base_url == "http://127.0.0.1:8603"
    assert client.identity is not None and client.identity.cert.org_id == "org2"
    assert client.genesis is not None and len(client.genesis.validators) == 4
    client.close()
    with pytest.raises(ConfigError, match="known identities"):
        Client.from_network(network_dir, identity="org9/admin")
    with pytest.raises(ConfigError, match="known nodes"):
        Client.from_network(network_dir, node="node9")


def test_network_manifest(network_dir: Path) -> None:
    network = load_network(network_dir)
    assert network.chain_id == "jinglian-dev" and network.consensus == "tbft"
    assert [n.name for n in network.nodes] == ["node1", "node2", "node3", "node4"]
    assert all(n.validator for n in network.nodes)
    assert network.identity().name == "org1/admin"
    assert sorted(network.identities) == sorted(
        f"org{i}/{role}" for i in range(1, 5) for role in ("admin", "client")
    )


@pytest.mark.parametrize(
    "content",
    ["{", "[]", '{"nodes": []}', json.dumps({"nodes": [{"name": 1}]})],
)
def test_invalid_manifest_is_a_config_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "network.json").write_text(content)
    with pytest.raises(ConfigError):
        load_network(tmp_path)


def test_missing_manifest_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="jinglian init"):
        load_network(tmp_path)
