"""Live streams of new blocks and contract events: WebSocket and Server-Sent Events.

Both routes read ``NodeServices.subscribe(EventFilter)`` through a bounded
queue: a subscriber that falls more than ``STREAM_QUEUE_MAX`` items behind is
disconnected with a ``busy`` error rather than holding memory for it, and at
most ``STREAM_SUBSCRIBERS_MAX`` subscribers are served at once. Each message
is the JSON object ``{"kind": "block"|"event", "height": n, "data": {...}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from jinglian.api.readers import read_access, websocket_read_access
from jinglian.api.render import render_stream_item
from jinglian.node.services import EventFilter, NodeServices, StreamItem
from jinglian.types.errors import Busy, JinglianError
from jinglian.types.tx import NAME_CHARS_MAX

__all__ = [
    "STREAM_KEEPALIVE_S",
    "STREAM_QUEUE_MAX",
    "STREAM_SUBSCRIBERS_MAX",
    "build_stream_router",
    "stream_items",
]

STREAM_QUEUE_MAX = 1024
"""Items a subscriber may fall behind before it is dropped."""
STREAM_SUBSCRIBERS_MAX = 256
"""Concurrent stream subscribers per node."""
STREAM_KEEPALIVE_S = 15.0
"""Idle seconds after which an SSE stream sends a comment to keep proxies open."""

_END = object()

Contract = Annotated[
    str | None, Query(max_length=NAME_CHARS_MAX, description="Only this contract's events.")
]
Topic = Annotated[str | None, Query(max_length=NAME_CHARS_MAX, description="Only this topic.")]
Blocks = Annotated[bool, Query(description="Include new-block messages.")]


async def stream_items(
    services: NodeServices, flt: EventFilter, keepalive_s: float = STREAM_KEEPALIVE_S
) -> AsyncIterator[dict[str, Any] | None]:
    """Rendered stream items, ``None`` after each idle ``keepalive_s``; raises ``Busy`` if slow."""
    queue: asyncio.Queue[object] = asyncio.Queue(STREAM_QUEUE_MAX)
    pump = asyncio.create_task(_pump(services.subscribe(flt), queue))
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), keepalive_s)
            except TimeoutError:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, StreamItem)
            yield render_stream_item(item)
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump


async def _pump(source: AsyncIterator[StreamItem], queue: asyncio.Queue[object]) -> None:
    """Copy ``source`` into ``queue``; on overflow or failure, end the stream with an error."""
    try:
        async for item in source:
            queue.put_nowait(item)
        queue.put_nowait(_END)
    except asyncio.QueueFull:
        _replace_all(queue, Busy(f"subscriber fell {STREAM_QUEUE_MAX} items behind; reconnect"))
    except JinglianError as exc:
        _replace_all(queue, exc)
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


def _replace_all(queue: asyncio.Queue[object], final: object) -> None:
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(final)


class _Admission:
    """Counts live subscribers against ``STREAM_SUBSCRIBERS_MAX``."""

    def __init__(self, limit: int = STREAM_SUBSCRIBERS_MAX) -> None:
        self.limit = limit
        self.active = 0

    @contextlib.contextmanager
    def slot(self) -> Any:
        """Hold one subscriber slot, or raise ``Busy``."""
        if self.active >= self.limit:
            raise Busy(f"{self.limit} subscribers already connected; retry later")
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


def build_stream_router(services: NodeServices, prefix: str) -> APIRouter:
    """The WebSocket route ``/ws`` and the SSE route ``/stream`` under ``prefix``."""
    router = APIRouter(prefix=prefix)
    admission = _Admission()
    check_reader = websocket_read_access(services, "subscribe")

    @router.websocket("/ws")
    async def websocket_stream(
        websocket: WebSocket, contract: Contract = None, topic: Topic = None, blocks: Blocks = True
    ) -> None:
        """New blocks and contract events as WebSocket text messages (JSON)."""
        flt = EventFilter(blocks=blocks, contract=contract, topic=topic)
        try:
            await check_reader(websocket)
        except JinglianError as exc:
            await websocket.close(code=1008, reason=f"{exc.code}: {exc.message}"[:120])
            return
        if admission.active >= admission.limit:
            await websocket.close(code=1013, reason="busy")
            return
        with admission.slot():
            await websocket.accept()
            await _serve_websocket(websocket, services, flt)

    @router.get(
        "/stream",
        summary="Stream new blocks and contract events (Server-Sent Events)",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
        tags=["events"],
        dependencies=[read_access(services, "subscribe")],
    )
    async def sse_stream(
        contract: Contract = None, topic: Topic = None, blocks: Blocks = True
    ) -> StreamingResponse:
        """`event: block|event|error` messages whose `data` is the JSON item."""
        flt = EventFilter(blocks=blocks, contract=contract, topic=topic)
        if admission.active >= admission.limit:
            raise Busy(f"{admission.limit} subscribers already connected; retry later")
        return StreamingResponse(
            _sse_lines(services, flt, admission), media_type="text/event-stream"
        )

    return router


async def _serve_websocket(websocket: WebSocket, services: NodeServices, flt: EventFilter) -> None:
    sender = asyncio.create_task(_send_items(websocket, services, flt))
    closer = asyncio.create_task(_wait_closed(websocket))
    done, pending = await asyncio.wait({sender, closer}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in (*done, *pending):
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await task


async def _send_items(websocket: WebSocket, services: NodeServices, flt: EventFilter) -> None:
    try:
        async for item in stream_items(services, flt):
            if item is not None:
                await websocket.send_text(json.dumps(item, separators=(",", ":")))
    except JinglianError as exc:
        await websocket.send_text(json.dumps({"kind": "error", "error": exc.to_dict()}))
        await websocket.close(code=1013 if isinstance(exc, Busy) else 1011, reason=exc.code)
        return
    await websocket.close(code=1000)


async def _wait_closed(websocket: WebSocket) -> None:
    """Return when the client goes away (messages from it are ignored)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _sse_lines(
    services: NodeServices, flt: EventFilter, admission: _Admission
) -> AsyncIterator[str]:
    with admission.slot():
        try:
            async for item in stream_items(services, flt):
                if item is None:
                    yield ": keepalive\n\n"
                else:
                    yield _sse_event(item["kind"], item)
        except JinglianError as exc:
            yield _sse_event("error", {"kind": "error", "error": exc.to_dict()})


def _sse_event(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
