"""Signing REST reads with a member identity (ADR 0016).

A node answers reads of chain data (blocks, transactions, state, queries,
events, the stream) only to readers its ``query`` / ``subscribe`` policy
admits, so each request carries the signed-read headers of
``jinglian.types.reads``. ``ReadAuth`` is an ``httpx.Auth`` that adds them to
every request: the SDK's clients use it whenever they have an identity, and
any ``httpx`` client can too::

    with httpx.Client(base_url=url, auth=ReadAuth(identity)) as http:
        http.get("/api/v1/blocks/latest")
"""

from __future__ import annotations

import base64
import time
from collections.abc import Generator
from urllib.parse import urlsplit

import httpx

from jinglian.client.identity import Identity
from jinglian.types.reads import SIGNATURE_HEADER, SIGNER_HEADER, TIME_HEADER, read_sign_bytes

SELF_AUTHENTICATING_POSTS = ("/txs", "/txs/batch", "/evidence/deposits")
"""Submissions carry signed transactions: the node checks those, not read headers."""

__all__ = ["ReadAuth", "sign_read_headers", "sign_request", "url_read_headers"]


def sign_read_headers(
    identity: Identity,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    now_ms: int | None = None,
    by_id: bool = False,
) -> dict[str, str]:
    """The signed-read headers for one request (``target``: path and query string as sent).

    ``by_id`` names the certificate by its id (it must be registered on chain)
    instead of sending it whole.
    """
    time_ms = int(time.time() * 1000) if now_ms is None else now_ms
    message = read_sign_bytes(identity.suite.hash, method, target, body, time_ms)
    signer = identity.cert_id.hex() if by_id else base64.b64encode(identity.cert.der).decode()
    return {
        SIGNER_HEADER: signer,
        TIME_HEADER: str(time_ms),
        SIGNATURE_HEADER: base64.b64encode(identity.key.sign(message)).decode(),
    }


def sign_request(identity: Identity | None, request: httpx.Request) -> None:
    """Add the signed-read headers of ``identity`` to a built request (nothing without one)."""
    if identity is None or (
        request.method == "POST" and request.url.path.endswith(SELF_AUTHENTICATING_POSTS)
    ):
        return
    target = request.url.raw_path.decode("ascii")
    request.headers.update(sign_read_headers(identity, request.method, target, request.content))


def url_read_headers(identity: Identity | None, url: str) -> dict[str, str]:
    """Signed-read headers for a GET of ``url`` (a WebSocket handshake); none without identity."""
    if identity is None:
        return {}
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return sign_read_headers(identity, "GET", target)


class ReadAuth(httpx.Auth):
    """Signs every request with ``identity`` (a fresh signature per request)."""

    requires_request_body = True

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sign_request(self.identity, request)
        yield request
