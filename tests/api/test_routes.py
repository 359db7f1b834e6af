"""The REST routes over a fake node: shapes, status codes, proofs that verify."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from jinglian.client import Identity, verify_state_record, verify_tx_record
from tests.api.fake_node import FakeNode


def _tx_b64(identity: Identity, chain_id: str, method: str = "put", **args: object) -> str:
    tx = identity.sign_tx(chain_id, "kv", method, args or {"key": "a", "value": 1})
    return base64.b64encode(tx.encoded).decode()


def _submit(http: TestClient, node: FakeNode, admin: Identity, **args: object) -> str:
    reply = http.post("/api/v1/txs", json={"tx": _tx_b64(admin, node.config.chain_id, **args)})
    assert reply.status_code == 202, reply.text
    return str(reply.json()["tx_id"])


def test_chain_info(http: TestClient, node: FakeNode) -> None:
    info = http.get("/api/v1/chain").json()
    assert info["chain_id"] == node.config.chain_id
    assert info["crypto"] == "default"
    assert info["consensus"] == "tbft"
    assert info["height"] == 0
    assert info["genesis_hash"] == node.genesis_hash.hex()
    assert info["config"] == node.config.to_value()


def test_health_and_metrics(http: TestClient) -> None:
    assert http.get("/api/v1/health").json()["status"] == "ok"
    metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "jinglian_height 0" in metrics.text


def test_submit_then_get_tx_record(http: TestClient, node: FakeNode, admin: Identity) -> None:
    tx_id = _submit(http, node, admin, key="a", value=7)
    record = http.get(f"/api/v1/txs/{tx_id}").json()
    assert record["id"] == tx_id
    assert record["height"] == 1 and record["index"] == 0
    assert record["body"]["contract"] == "kv"
    assert record["body"]["args"] == {"key": "a", "value": 7}
    assert record["body"]["sender"] == admin.cert_id.hex()
    assert record["endorsements"][0]["signer_type"] == "cert"
    assert record["receipt"]["status"] == "ok"
    assert record["receipt"]["events"] == [{"contract": "kv", "topic": "put", "data": {"key": "a"}}]
    assert set(record["proof"]) == {
        "tx_leaf",
        "tx_index",
        "tx_count",
        "tx_path",
        "receipt_leaf",
        "receipt_path",
    }
    assert record["header"]["height"] == 1
    assert len(record["commit"]["signatures"]) == 4
    proven = verify_tx_record(record, node.config)
    assert proven.tx.id.hex() == tx_id


def test_submit_with_wait_returns_the_record(
    http: TestClient, node: FakeNode, admin: Identity
) -> None:
    body = {"tx": _tx_b64(admin, node.config.chain_id)}
    reply = http.post("/api/v1/txs?wait=true&timeout=5", json=body)
    assert reply.status_code == 200
    assert reply.json()["receipt"]["status"] == "ok"


def test_wait_that_times_out_is_504(http: TestClient, node: FakeNode, admin: Identity) -> None:
    node.hold = True
    body = {"tx": _tx_b64(admin, node.config.chain_id)}
    reply = http.post("/api/v1/txs?wait=true&timeout=0.05", json=body)
    assert reply.status_code == 504
    assert reply.json()["error"]["code"] == "timeout"


def test_duplicate_is_409(http: TestClient, node: FakeNode, admin: Identity) -> None:
    body = {"tx": _tx_b64(admin, node.config.chain_id)}
    assert http.post("/api/v1/txs", json=body).status_code == 202
    reply = http.post("/api/v1/txs", json=body)
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "duplicate_transaction"


def test_wrong_chain_is_400(http: TestClient, admin: Identity) -> None:
    reply = http.post("/api/v1/txs", json={"tx": _tx_b64(admin, "other-chain")})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "wrong_chain"


def test_blocks(http: TestClient, node: FakeNode, admin: Identity) -> None:
    assert http.get("/api/v1/blocks/latest").status_code == 404
    tx_id = _submit(http, node, admin)
    latest = http.get("/api/v1/blocks/latest").json()
    assert latest["height"] == 1
    assert latest["tx_ids"] == [tx_id]
    assert latest["receipts"][0]["status"] == "ok"
    assert http.get("/api/v1/blocks/1").json() == latest
    assert http.get(f"/api/v1/blocks/hash/{latest['hash']}").json() == latest
    assert http.get("/api/v1/blocks/2").json()["error"]["code"] == "not_found"
    assert http.get(f"/api/v1/blocks/hash/{'00' * 32}").status_code == 404


def test_block_transactions_page(http: TestClient, node: FakeNode, admin: Identity) -> None:
    node.hold = True
    ids = [_submit(http, node, admin, key=f"k{n}", value=n) for n in range(3)]
    node.commit_pending()
    node.hold = False
    page = http.get("/api/v1/blocks/1/txs").json()
    assert (page["height"], page["tx_count"], page["start"]) == (1, 3, 0)
    assert [t["id"] for t in page["txs"]] == ids
    record = http.get(f"/api/v1/txs/{ids[1]}").json()
    assert {k: record[k] for k in page["txs"][1]} == page["txs"][1]  # the record minus its proofs
    second = http.get("/api/v1/blocks/1/txs", params={"start": 1, "limit": 1}).json()
    assert [t["id"] for t in second["txs"]] == [ids[1]]
    assert http.get("/api/v1/blocks/1/txs", params={"start": 5}).json()["txs"] == []
    assert http.get("/api/v1/blocks/1/txs", params={"limit": 501}).status_code == 400
    assert http.get("/api/v1/blocks/1/txs", params={"start": -1}).status_code == 400
    assert http.get("/api/v1/blocks/9/txs").json()["error"]["code"] == "not_found"


def test_query_with_and_without_proof(http: TestClient, node: FakeNode, admin: Identity) -> None:
    _submit(http, node, admin, key="k", value={"n": 1, "b": {"$bytes": "AAE="}})
    plain = http.post(
        "/api/v1/query", json={"contract": "kv", "method": "get", "args": {"key": "k"}}
    )
    assert plain.json() == {"value": {"n": 1, "b": {"$bytes": "AAE="}}, "height": 1, "gas_used": 10}
    proven = http.post(
        "/api/v1/query",
        json={"contract": "kv", "method": "get", "args": {"key": "k"}, "prove": True},
    ).json()
    assert len(proven["reads"]) == 1
    assert proven["header"]["height"] == 1
    assert proven["commit"]["height"] == 1


def test_query_errors(http: TestClient) -> None:
    unknown = http.post("/api/v1/query", json={"contract": "nope", "method": "get"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_contract"
    floats = http.post(
        "/api/v1/query", json={"contract": "kv", "method": "get", "args": {"x": 1.5}}
    )
    assert floats.status_code == 400
    assert "floating-point" in floats.json()["error"]["message"]
    extra = http.post("/api/v1/query", json={"contract": "kv", "method": "get", "bogus": 1})
    assert extra.status_code == 400
    assert "bogus" in extra.json()["error"]["message"]


def test_state_entry_with_proof(http: TestClient, node: FakeNode, admin: Identity) -> None:
    _submit(http, node, admin, key="a/b c", value=[1, "x"])
    record = http.get("/api/v1/state/kv/a%2Fb%20c").json()
    assert record["key"] == "a/b c"
    assert base64.b64decode(record["raw_key"]) == b"kv\x00a/b c"
    assert record["decoded"] == [1, "x"]
    assert record["value"] is not None
    assert verify_state_record(record, node.config).value is not None
    absent = http.get("/api/v1/state/kv/missing").json()
    assert absent["value"] is None and absent["decoded"] is None
    assert verify_state_record(absent, node.config).value is None
    assert http.get("/api/v1/state/kv/a?prove=false").json()["proof"] is None


def test_state_at_height(http: TestClient, node: FakeNode, admin: Identity) -> None:
    _submit(http, node, admin, key="a", value=1)
    _submit(http, node, admin, key="a", value=2)
    assert http.get("/api/v1/state/kv/a?height=1").json()["decoded"] == 1
    assert http.get("/api/v1/state/kv/a").json()["decoded"] == 2
    assert http.get("/api/v1/state/kv/a?height=9").status_code == 404
    assert http.get("/api/v1/state/kv/a?height=-1").status_code == 400
