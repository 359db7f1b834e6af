"""How the API reports failures, and the request-size bound.

Every failure leaves as ``{"error": {"code": ..., "message": ...}}``:
``JinglianError`` subclasses with their own ``http_status``; request
validation failures as 400 ``invalid_input`` with the offending field named;
unknown routes and methods as 404 ``not_found`` / 405 ``method_not_allowed``;
anything unexpected as 500 ``internal`` with no detail (the traceback goes to
the node's log, never to the client). Request bodies over
``REQUEST_BYTES_MAX`` are refused with 413 ``too_large`` before any parsing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jinglian.types.errors import JinglianError

__all__ = [
    "REQUEST_BYTES_MAX",
    "BodyLimitMiddleware",
    "error_response",
    "install_error_handlers",
]

REQUEST_BYTES_MAX = 1024 * 1024
"""Largest request body the API reads."""

_log = logging.getLogger("jinglian.api")

_STATUS_CODES = {
    400: "invalid_input",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "invalid_input",
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The JSON error body every failure uses."""
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}})


def install_error_handlers(app: FastAPI) -> None:
    """Map every kind of failure to a JSON error response."""
    app.add_exception_handler(JinglianError, _on_jinglian_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)


async def _on_jinglian_error(_request: Request, exc: JinglianError) -> JSONResponse:
    return error_response(exc.http_status, exc.code, exc.message)


async def _on_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return error_response(400, "invalid_input", describe_validation_errors(exc.errors()))


async def _on_http_exception(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = "no such route; see /docs for the API"
    return error_response(exc.status_code, code, message)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unexpected error serving %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal error; the node's log has the details")


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """One readable sentence per problem, e.g. ``body.args: Input should be a valid dictionary``."""
    parts = []
    for error in list(errors)[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        if error.get("type") == "json_invalid":
            parts.append("request body is not valid JSON")
        else:
            parts.append(f"{location}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413 before the app reads them.

    The body is buffered (at most ``limit`` bytes) and replayed to the app, so
    a lying or missing ``Content-Length`` cannot get more through.
    """

    def __init__(self, app: ASGIApp, limit: int = REQUEST_BYTES_MAX) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer the body of an HTTP request, or refuse it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.limit:
            await self._refuse(scope, receive, send)
            return
        body = await _read_body(receive, self.limit)
        if body is None:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "too_large", f"request body is larger than {self.limit} bytes"
        )
        await response(scope, receive, send)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it grows past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
