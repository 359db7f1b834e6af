"""The node's REST and streaming API, thin over ``jinglian.node.services.NodeServices``.

``create_app(services)`` builds the FastAPI application (everything under
``/api/v1``, OpenAPI at ``/docs`` and ``/openapi.json``, Prometheus text at
``/metrics``); ``serve_api(services, host, port)`` runs it with uvicorn in the
caller's event loop. ``render`` holds the JSON form of every record, which the
client SDK parses and verifies; ``docs/api.md`` documents the shapes.
"""

from jinglian.api.app import create_app
from jinglian.api.server import ApiServer, serve_api

__all__ = ["ApiServer", "create_app", "serve_api"]
