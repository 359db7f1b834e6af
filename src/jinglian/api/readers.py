"""Signed reads at the API edge: the route dependencies that check a reader (ADR 0016).

Routes that read chain data depend on ``read_access(services, "query")``
(``"subscribe"`` for the stream routes). The dependency rebuilds what the
reader signed (method, path and query string exactly as received, the body)
and asks the node (``NodeServices.authorize_read``) whether the signed-read
headers meet the policy in force; a refusal is the usual JSON error (401 for
a missing or bad signature, 403 for a reader the policy does not admit).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Depends, Request, WebSocket

from jinglian.node.readers import ReadRequest
from jinglian.node.services import NodeServices
from jinglian.types.reads import SIGNATURE_HEADER, SIGNER_HEADER, TIME_HEADER

__all__ = ["read_access", "websocket_read_access"]


def read_access(services: NodeServices, resource: str) -> Any:
    """A route dependency admitting only readers the ``resource`` policy admits."""

    async def check(request: Request) -> None:
        body = await request.body()
        services.authorize_read(
            resource, _read_request(request.scope, request.method, body, request.headers)
        )

    return Depends(check)


def websocket_read_access(
    services: NodeServices, resource: str
) -> Callable[[WebSocket], Coroutine[Any, Any, None]]:
    """The same check for a WebSocket handshake (headers only, no body)."""

    async def check(websocket: WebSocket) -> None:
        services.authorize_read(
            resource, _read_request(websocket.scope, "GET", b"", websocket.headers)
        )

    return check


def _read_request(
    scope: Mapping[str, Any], method: str, body: bytes, headers: Mapping[str, str]
) -> ReadRequest:
    raw_path = scope.get("raw_path") or str(scope["path"]).encode()
    query = scope.get("query_string") or b""
    target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    return ReadRequest(
        method=method,
        target=target,
        body=body,
        signer=headers.get(SIGNER_HEADER),
        time=headers.get(TIME_HEADER),
        signature=headers.get(SIGNATURE_HEADER),
    )
