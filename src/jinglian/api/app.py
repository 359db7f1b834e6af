"""The FastAPI application: routes, streams, metrics and error handling in one factory."""

from __future__ import annotations

from fastapi import FastAPI

from jinglian.api.directory import add_directory_routes
from jinglian.api.errors import REQUEST_BYTES_MAX, BodyLimitMiddleware, install_error_handlers
from jinglian.api.evidence import add_evidence_routes
from jinglian.api.routes import API_PREFIX, build_metrics, build_router
from jinglian.api.stream import build_stream_router
from jinglian.node.services import NodeServices

__all__ = ["API_VERSION", "create_app"]

API_VERSION = "1"

_DESCRIPTION = """\
REST and streaming API of a jinglian node. Transactions are signed by the
client (see the Python SDK `jinglian.client`) and submitted as base64 wire
bytes. Hashes and ids are hex, opaque bytes base64, contract values use the
codec JSON form (`{"$bytes": "<base64>"}` for byte strings; no floats).
Every error is `{"error": {"code": ..., "message": ...}}`.

Live streams: WebSocket at `/api/v1/ws`, Server-Sent Events at
`/api/v1/stream` (query `contract`, `topic`, `blocks`).
"""


def create_app(services: NodeServices) -> FastAPI:
    """Build the ASGI app over a node's services."""
    app = FastAPI(
        title="jinglian node API",
        version=API_VERSION,
        description=_DESCRIPTION,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(build_router(services))
    app.include_router(build_stream_router(services, API_PREFIX))
    app.include_router(build_metrics(services))
    add_evidence_routes(app, services)
    add_directory_routes(app, services)
    app.add_middleware(BodyLimitMiddleware, limit=REQUEST_BYTES_MAX)
    return app
