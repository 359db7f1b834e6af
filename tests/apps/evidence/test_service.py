"""The SDK functions: hashing files, and deposit/lookup through a Client on a solo node."""

from __future__ import annotations

import base64
import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinglian.api import create_app
from jinglian.apps.evidence import (
    CHUNK_BYTES,
    deploy_evidence_contract,
    deposit,
    hash_file,
    lookup,
    make_item,
    put_files,
    split_batches,
    verify_file,
)
from jinglian.client import Client, Identity, load_genesis
from jinglian.node.config import load_node_config
from jinglian.node.init import create_network
from jinglian.node.local import LocalServices
from jinglian.node.node import Node
from jinglian.types.errors import (
    ContractFailed,
    DecodeError,
    DigestMismatch,
    InvalidInput,
    NotFound,
    TooLarge,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

# The SDK passes a timeout per request, which Starlette's test client merely warns about.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::starlette.exceptions.StarletteDeprecationWarning"),
]


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


# -- receipts through the SDK and the REST routes, on solo chains of both suites ------------------


@pytest.fixture(scope="module", params=["default", "gm"])
def suite_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Client]:
    crypto = request.param
    root = tmp_path_factory.mktemp(f"net-{crypto}") / "net"
    port = 18_770 if crypto == "default" else 18_780
    create_network(root, 1, consensus="solo", crypto=crypto, api_port=port, p2p_port=port + 1000)
    node = Node(load_node_config(root / "nodes" / "node1"))
    node.start()
    try:
        admin = Identity.from_network(root, "org1/admin")
        with TestClient(create_app(LocalServices(node))) as http:
            client = Client(
                str(http.base_url), admin, load_genesis(root / "genesis.json"), http=http
            )
            deploy_evidence_contract(client)
            yield client
    finally:
        node.stop()


def test_put_files_batches_and_every_receipt_verifies(suite_client: Client, tmp_path: Path) -> None:
    files = []
    for number in range(7):
        path = tmp_path / f"shot{number}.png"
        path.write_bytes(f"screenshot {number}".encode() * 100)
        files.append(path)
    batches: list[int] = []
    done = put_files(suite_client, files, {"ref": "case-9"}, batch_items=3, on_batch=batches.append)
    assert batches == [3, 3, 1]
    assert len({d.deposit_id.split(":")[0] for d in done}) == 3
    genesis = suite_client.genesis
    assert genesis is not None
    alg = "sm3" if genesis.crypto == "gm" else "sha256"
    for path, item in zip(files, done, strict=True):
        verified = verify_file(path, item.receipt, genesis)
        assert (verified.alg, verified.title, verified.ref) == (alg, path.name, "case-9")
    with pytest.raises(DigestMismatch):
        verify_file(files[1], done[0].receipt, genesis)


def test_split_batches_bounds_count_and_bytes() -> None:
    items = [{"digest": bytes([n]) * 32, "alg": "sha256", "title": "t" * 150} for n in range(10)]
    assert [len(b) for b in split_batches(items, max_items=4)] == [4, 4, 2]
    assert [len(b) for b in split_batches(items, max_items=100, max_bytes=700)] == [3, 3, 3, 1]
    with pytest.raises(TooLarge, match=r"encodes to \d+ bytes, over 100"):
        list(split_batches(items, max_bytes=100))


def test_make_item_refuses_unknown_metadata() -> None:
    with pytest.raises(InvalidInput, match="unknown metadata field 'colour'"):
        make_item(b"\x00" * 32, "sha256", {"colour": "red"}, chain_id="c")
    with pytest.raises(InvalidInput, match="env_hash must be 64 hex characters"):
        make_item(b"\x00" * 32, "sha256", {"env_hash": "abc"}, chain_id="c")


def test_rest_routes_refuse_bad_input_and_keep_serving(suite_client: Client) -> None:
    def call(method: str, path: str, **kw: object) -> None:
        suite_client.call_api(method, path, **kw)  # type: ignore[arg-type]

    genesis = suite_client.genesis
    identity = suite_client.identity
    assert genesis is not None and identity is not None
    kv_tx = identity.sign_tx(genesis.chain_id, "evidence", "get", {"digest": "00" * 32})
    cases: list[tuple[str, str, dict[str, object], type[Exception], str]] = [
        ("GET", "/evidence/deposits/xyz", {}, InvalidInput, "digest must be 64 hex"),
        ("GET", "/evidence/receipts/nothing", {}, InvalidInput, "a deposit id is"),
        ("GET", "/evidence/receipts/" + "ab" * 32 + ":0", {}, NotFound, "no committed transaction"),
        ("POST", "/evidence/deposits", {"body": {"tx": "%%%"}}, InvalidInput, "not valid base64"),
        (
            "POST",
            "/evidence/deposits",
            {"body": {"tx": base64.b64encode(b"\x01").decode()}},
            DecodeError,
            "a transaction is a list",
        ),
        (
            "POST",
            "/evidence/deposits",
            {"body": {"tx": base64.b64encode(kv_tx.encoded).decode()}},
            InvalidInput,
            "calls 'get', not 'deposit'",
        ),
        (
            "POST",
            "/evidence/verify",
            {"body": {"digest": "00", "receipt": {}}},
            InvalidInput,
            "digest",
        ),
    ]
    for method, path, kw, error, message in cases:
        with pytest.raises(error, match=message):
            call(method, path, **kw)
    answer = suite_client.call_api(
        "POST", "/evidence/verify", body={"digest": "00" * 32, "receipt": {"format": "x"}}
    )
    assert answer == {"valid": False, "code": "invalid_receipt", "reason": answer["reason"]}
    assert "not an evidence receipt" in answer["reason"]
    assert suite_client.health()["status"] == "ok"


def test_rest_deposit_lookup_receipt_and_verify(suite_client: Client) -> None:
    genesis = suite_client.genesis
    identity = suite_client.identity
    assert genesis is not None and identity is not None
    alg = "sm3" if genesis.crypto == "gm" else "sha256"
    digest = hashlib.new(alg, b"a recording").digest()
    item = make_item(digest, alg, {"title": "call.wav"}, chain_id=genesis.chain_id)
    tx = identity.sign_tx(genesis.chain_id, "evidence", "deposit", {"items": [item]})
    answer = suite_client.call_api(
        "POST", "/evidence/deposits", body={"tx": base64.b64encode(tx.encoded).decode()}
    )
    assert answer["deposit_ids"] == [f"{tx.id.hex()}:0"]
    found = suite_client.call_api("GET", f"/evidence/deposits/{digest.hex()}")
    assert [d["id"] for d in found["deposits"]] == answer["deposit_ids"]
    receipt = suite_client.call_api("GET", f"/evidence/receipts/{answer['deposit_ids'][0]}")
    checked = suite_client.call_api(
        "POST", "/evidence/verify", body={"digest": digest.hex(), "receipt": receipt}
    )
    assert checked["valid"] is True and checked["result"]["title"] == "call.wav"
    other = suite_client.call_api(
        "POST", "/evidence/verify", body={"digest": "11" * 32, "receipt": receipt}
    )
    assert (other["valid"], other["code"]) == (False, "digest_mismatch")
