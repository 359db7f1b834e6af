"""The SDK functions: hashing files, and deposit/lookup through a Client on a solo node."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinglian.api import create_app
from jinglian.apps.evidence import CHUNK_BYTES, deploy_evidence_contract, deposit, hash_file, lookup
from jinglian.client import Client, Identity
from jinglian.node.config import load_node_config
from jinglian.node.init import create_network
from jinglian.node.local import LocalServices
from jinglian.node.node import Node
from jinglian.types.errors import ContractFailed, InvalidInput

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

# The SDK passes a timeout per request, which Starlette's test client merely warns about.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("alg", ["sha256", "sm3"])
def test_hash_file_equals_one_shot_digest(tmp_path: Path, alg: str) -> None:
    data = hashlib.sha256(b"seed").digest() * (5 * CHUNK_BYTES // 32 + 7)
    path = tmp_path / "record.bin"
    path.write_bytes(data)
    assert len(data) > 5 * CHUNK_BYTES
    assert hash_file(path, alg) == hashlib.new(alg, data).digest()


def test_hash_file_refuses_an_unknown_algorithm(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    with pytest.raises(InvalidInput, match="unknown hash algorithm 'md5'"):
        hash_file(path, "md5")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    root = tmp_path_factory.mktemp("net") / "net"
    create_network(root, 1, consensus="solo", api_port=18_760, p2p_port=19_760)
    node = Node(load_node_config(root / "nodes" / "node1"))
    node.start()
    try:
        admin = Identity.from_network(root, "org1/admin")
        with TestClient(create_app(LocalServices(node))) as http:
            client = Client(str(http.base_url), admin, http=http)
            deploy_evidence_contract(client)
            yield client
    finally:
        node.stop()


def item(digest: bytes, ref: str) -> dict[str, object]:
    return {"digest": digest, "alg": "sha256", "title": "a record", "type": "pdf", "ref": ref}


def test_deposit_and_lookup_across_blocks(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "contract.pdf"
    path.write_bytes(b"%PDF-1.7 a contract")
    digest = hash_file(path)
    first = deposit(client, [item(digest, "first")])
    second = deposit(client, [item(digest, "second"), item(digest, "third")])
    records = lookup(client, digest)
    assert [r["id"] for r in records] == first + second
    assert records[0]["height"] < records[1]["height"]
    assert lookup(client, digest.hex(), limit=1) == records[:1]


def test_deposit_refusal_names_the_item(client: Client) -> None:
    with pytest.raises(ContractFailed, match="item 0: digest must be 32 bytes"):
        deposit(client, [item(b"short", "bad")])
