"""Bad input everywhere: always a 4xx JSON error, never a 500, and the app keeps serving."""

from __future__ import annotations

import base64
import re

import pytest
from fastapi.testclient import TestClient

from jinglian.api import create_app
from jinglian.api.errors import REQUEST_BYTES_MAX
from jinglian.types.errors import Busy
from tests.api.fake_node import FakeNode

GARBAGE_BODIES: list[bytes] = [
    b"",
    b"null",
    b"[]",
    b"{",
    b'{"tx": 5}',
    b'{"tx": "!!!not base64"}',
    b'{"tx": "' + base64.b64encode(b"\xa1\x00\x00").decode().encode() + b'"}',
    b'{"tx": "' + base64.b64encode(b"\x82\x41\x00\x80").decode().encode() + b'"}',
    b'{"contract": "", "method": "x"}',
    b'{"contract": "kv", "method": "get", "args": [1]}',
    b'{"contract": "kv", "method": "get", "args": {"a": 1e400}}',
    b'{"contract": "kv", "method": "get", "args": {"a": 99999999999999999999999}}',
    b'{"contract": "kv", "method": "get", "height": -5}',
    b'{"contract": "kv", "method": "get", "prove": "yes"}',
    "\u00ff\u00fe".encode("latin-1"),
    b'{"contract": "kv", "method": "get", "args": ' + b"[" * 2000 + b"]" * 2000 + b"}",
]

GARBAGE_SEGMENTS = ["x", "-1", "zz" * 32, "%00", "9" * 40, "ff", "..", "%ff%fe"]

GARBAGE_QUERIES = [
    "",
    "?height=abc",
    "?height=-1",
    "?prove=maybe",
    "?wait=2&timeout=-1",
    "?timeout=1e999",
    "?wait=true&timeout=nan",
]


def _error_code(reply: object) -> str:
    body = reply.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"])


def _concrete_paths(template: str) -> list[str]:
    params = re.findall(r"{[^}]+}", template)
    if not params:
        return [template]
    return [re.sub(r"{[^}]+}", segment, template) for segment in GARBAGE_SEGMENTS]


def test_garbage_to_every_route_is_a_4xx_json_error(node: FakeNode) -> None:
    app = create_app(node)
    routes = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]
    assert len(routes) >= 11
    with TestClient(app, raise_server_exceptions=True) as http:
        _send_garbage(http, routes)
        assert http.get("/api/v1/chain").status_code == 200


def _send_garbage(http: TestClient, routes: list[tuple[str, str]]) -> None:
    for method, template in routes:
        for path in _concrete_paths(template):
            for query in GARBAGE_QUERIES:
                for body in GARBAGE_BODIES if method == "POST" else [b""]:
                    reply = http.request(
                        method,
                        path + query,
                        content=body,
                        headers={"content-type": "application/json"},
                    )
                    assert reply.status_code < 500, (method, path, query, body[:40], reply.text)
                    if reply.status_code >= 400:
                        _error_code(reply)


def test_malformed_transaction_bytes_are_decode_errors(http: TestClient) -> None:
    tx = base64.b64encode(b"\x82\x41\x00\x80").decode()
    reply = http.post("/api/v1/txs", json={"tx": tx})
    assert reply.status_code == 400
    assert _error_code(reply) in ("decode_error", "invalid_input")


@pytest.mark.parametrize("path", ["/api/v1/txs/xyz", "/api/v1/blocks/hash/12"])
def test_bad_ids_are_invalid_input(http: TestClient, path: str) -> None:
    reply = http.get(path)
    assert reply.status_code == 400
    assert _error_code(reply) == "invalid_input"
    assert "64 hex characters" in reply.json()["error"]["message"]


def test_invalid_json_has_a_readable_message(http: TestClient) -> None:
    reply = http.post("/api/v1/query", content=b"{", headers={"content-type": "application/json"})
    assert reply.status_code == 400
    assert _error_code(reply) == "invalid_input"
    assert "not valid JSON" in reply.json()["error"]["message"]


def test_missing_field_names_the_field(http: TestClient) -> None:
    reply = http.post("/api/v1/query", json={"contract": "kv"})
    assert reply.status_code == 400
    assert "method" in reply.json()["error"]["message"]


def test_too_large_body_is_413_before_parsing(http: TestClient) -> None:
    big = b'{"tx": "' + b"A" * (REQUEST_BYTES_MAX + 10) + b'"}'
    reply = http.post("/api/v1/txs", content=big, headers={"content-type": "application/json"})
    assert reply.status_code == 413
    assert _error_code(reply) == "too_large"


def test_too_large_chunked_body_is_413(http: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"A" * (REQUEST_BYTES_MAX // 10)

    reply = http.post("/api/v1/txs", content=chunks(), headers={"content-type": "application/json"})
    assert reply.status_code == 413
    assert _error_code(reply) == "too_large"


def test_unknown_route_and_method(http: TestClient) -> None:
    missing = http.get("/api/v1/nothing")
    assert missing.status_code == 404 and _error_code(missing) == "not_found"
    wrong = http.delete("/api/v1/chain")
    assert wrong.status_code == 405 and _error_code(wrong) == "method_not_allowed"


def test_service_errors_keep_their_status(node: FakeNode) -> None:
    def busy(data: bytes) -> bytes:
        raise Busy("mempool is full")

    node.submit_tx = busy  # type: ignore[method-assign]
    with TestClient(create_app(node)) as http:
        reply = http.post("/api/v1/txs", json={"tx": "AAAA"})
    assert reply.status_code == 503
    assert reply.json() == {"error": {"code": "busy", "message": "mempool is full"}}


def test_a_bug_is_a_500_without_details(node: FakeNode) -> None:
    def broken() -> None:
        raise RuntimeError("secret internal detail")

    node.chain_info = broken  # type: ignore[assignment,method-assign]
    with TestClient(create_app(node), raise_server_exceptions=False) as http:
        reply = http.get("/api/v1/chain")
        assert reply.status_code == 500
        assert _error_code(reply) == "internal"
        assert "secret" not in reply.text
        assert http.get("/api/v1/health").status_code == 200
