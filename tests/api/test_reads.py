"""Signed reads over the fake node's API: every way a reader can be wrong gets its own error.

The fake node checks readers with the node's own ``ReadGuard`` and the chain
config's ``query`` / ``subscribe`` policies; ``http`` signs as org1's admin.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from jinglian.api import create_app
from jinglian.client import Identity
from jinglian.client.reads import sign_read_headers
from jinglian.crypto import get_suite, issue_ca_certificate, issue_certificate
from jinglian.types.policy import Policy
from jinglian.types.reads import SIGNATURE_HEADER, SIGNER_HEADER, TIME_HEADER
from tests.api.fake_node import FakeNode

READ = "/api/v1/blocks/hash/" + "00" * 32


@pytest.fixture()
def anonymous(node: FakeNode) -> TestClient:
    return TestClient(create_app(node), raise_server_exceptions=False)


def _error(reply: object) -> tuple[int, str]:
    status = reply.status_code  # type: ignore[attr-defined]
    return status, reply.json()["error"]["code"]  # type: ignore[attr-defined]


def test_a_signed_read_is_answered(http: TestClient) -> None:
    assert http.get(READ).status_code == 404  # read allowed; no such block
    assert http.post(
        "/api/v1/query", json={"contract": "kv", "method": "get", "args": {"key": "a"}}
    ).status_code in (200, 404, 422)


def test_unsigned_reads_are_refused_with_what_to_send(anonymous: TestClient) -> None:
    for reply in (
        anonymous.get("/api/v1/blocks/latest"),
        anonymous.get("/api/v1/txs/" + "00" * 32),
        anonymous.post("/api/v1/query", json={"contract": "kv", "method": "get", "args": {}}),
        anonymous.get("/api/v1/state/kv/a"),
        anonymous.get("/api/v1/stream"),
    ):
        assert _error(reply) == (401, "unauthenticated"), reply.text
        assert SIGNER_HEADER in reply.json()["error"]["message"]
    # Chain metadata, health and transaction submission stay open.
    assert anonymous.get("/api/v1/chain").status_code == 200
    assert anonymous.get("/api/v1/health").status_code == 200


def test_malformed_signed_reads(anonymous: TestClient, admin: Identity) -> None:
    good = sign_read_headers(admin, "GET", READ)
    cases = {
        "signer not base64": {**good, SIGNER_HEADER: "%%%"},
        "signature not base64": {**good, SIGNATURE_HEADER: "not base64!"},
        "time not a number": {**good, TIME_HEADER: "soon"},
        "a header missing": {k: v for k, v in good.items() if k != TIME_HEADER},
        "signer too long": {**good, SIGNER_HEADER: "A" * 100_000},
    }
    for name, headers in cases.items():
        assert _error(anonymous.get(READ, headers=headers)) == (401, "unauthenticated"), name
    # Signed for another path, or another body: the signature does not verify.
    other = sign_read_headers(admin, "GET", "/api/v1/blocks/latest")
    assert _error(anonymous.get(READ, headers=other)) == (401, "unauthenticated")
    body = b'{"contract": "kv", "method": "get", "args": {}}'
    signed = sign_read_headers(admin, "POST", "/api/v1/query", b'{"contract": "kv"}')
    reply = anonymous.post(
        "/api/v1/query", content=body, headers={**signed, "content-type": "application/json"}
    )
    assert _error(reply) == (401, "unauthenticated")


def test_stale_and_replayed_reads(anonymous: TestClient, admin: Identity) -> None:
    stale = sign_read_headers(admin, "GET", READ, now_ms=int(time.time() * 1000) - 3_600_000)
    reply = anonymous.get(READ, headers=stale)
    assert _error(reply) == (401, "unauthenticated") and "clock" in reply.json()["error"]["message"]
    once = sign_read_headers(admin, "GET", READ)
    assert anonymous.get(READ, headers=once).status_code == 404
    assert _error(anonymous.get(READ, headers=once)) == (403, "replayed_request")


def test_a_reader_from_a_self_made_ca_claiming_a_member_is_refused(
    anonymous: TestClient, tmp_path: Path
) -> None:
    suite = get_suite("default")
    key = suite.generate_key()
    ca = issue_ca_certificate(suite, key, "org1")
    reader_key = suite.generate_key()
    cert = issue_certificate(suite, key, ca, reader_key.public_key(), "org1", "admin", "admin.org1")
    (tmp_path / "c.pem").write_text(cert.pem)
    (tmp_path / "k.pem").write_bytes(reader_key.to_pem())
    impostor = Identity.load(tmp_path / "c.pem", tmp_path / "k.pem")
    reply = anonymous.get(READ, headers=sign_read_headers(impostor, "GET", READ))
    assert _error(reply) == (403, "unknown_identity")


def test_the_query_policy_decides_who_reads(
    anonymous: TestClient, node: FakeNode, network_dir: Path
) -> None:
    org1 = Identity.from_network(network_dir, "org1/admin")
    org2 = Identity.from_network(network_dir, "org2/client")
    only_org2 = Policy("ANY", ("admin", "client"), ("org2",))
    original = node.config
    policies = {**dict(original.policies), "query": only_org2}
    node.config = dataclasses.replace(original, policies=tuple(sorted(policies.items())))
    try:
        reply = anonymous.get(READ, headers=sign_read_headers(org1, "GET", READ))
        assert _error(reply) == (403, "policy_not_satisfied")
        assert anonymous.get(READ, headers=sign_read_headers(org2, "GET", READ)).status_code == 404
    finally:
        node.config = original


def test_an_unsigned_websocket_is_closed(anonymous: TestClient, admin: Identity) -> None:
    with pytest.raises(WebSocketDisconnect), anonymous.websocket_connect("/api/v1/ws") as socket:
        socket.receive_text()
    headers = sign_read_headers(admin, "GET", "/api/v1/ws")
    with anonymous.websocket_connect("/api/v1/ws", headers=headers) as socket:
        socket.close()
