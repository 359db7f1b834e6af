"""Live streams: WebSocket and SSE, filters, slow subscribers, and a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from fastapi.testclient import TestClient

from jinglian.api import ApiServer, create_app
from jinglian.api.stream import STREAM_QUEUE_MAX, stream_items
from jinglian.client import AsyncClient, Client, Identity
from jinglian.node.services import EventFilter, StreamItem
from tests.api.fake_node import FakeNode


def _two_puts(node: FakeNode, admin: Identity) -> None:
    for key in ("a", "b"):
        node.submit_tx(
            admin.sign_tx(node.config.chain_id, "kv", "put", {"key": key, "value": 1}).encoded
        )


def test_websocket_sends_blocks_and_events(
    http: TestClient, node: FakeNode, admin: Identity
) -> None:
    _two_puts(node, admin)
    with http.websocket_connect("/api/v1/ws") as ws:
        messages = [ws.receive_json() for _ in range(4)]
    assert [m["kind"] for m in messages] == ["block", "event", "block", "event"]
    assert messages[1]["data"]["contract"] == "kv"


def test_websocket_filters(http: TestClient, node: FakeNode, admin: Identity) -> None:
    _two_puts(node, admin)
    with http.websocket_connect("/api/v1/ws?blocks=false&contract=kv&topic=put") as ws:
        messages = [ws.receive_json() for _ in range(2)]
    assert {m["kind"] for m in messages} == {"event"}


def test_sse_stream(http: TestClient, node: FakeNode, admin: Identity) -> None:
    _two_puts(node, admin)
    with http.stream("GET", "/api/v1/stream?blocks=true") as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        text = "".join(reply.iter_text())
    events = [line for line in text.splitlines() if line.startswith("event: ")]
    assert events == ["event: block", "event: event", "event: block", "event: event"]
    data = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert data[0]["kind"] == "block" and data[0]["height"] == 1


class _Endless:
    """A subscription that produces faster than anyone reads."""

    async def subscribe(self, flt: EventFilter) -> AsyncIterator[StreamItem]:
        height = 0
        while True:
            height += 1
            yield StreamItem("block", height, {})
            if height % 100 == 0:
                await asyncio.sleep(0)


def test_a_slow_subscriber_is_dropped_with_busy() -> None:
    asyncio.run(_slow_subscriber())


async def _slow_subscriber() -> None:
    from jinglian.types.errors import Busy

    items = stream_items(_Endless(), EventFilter(), keepalive_s=1.0)  # type: ignore[arg-type]
    await items.__anext__()
    await asyncio.sleep(0.05)
    with pytest.raises(Busy, match=str(STREAM_QUEUE_MAX)):
        for _ in range(STREAM_QUEUE_MAX + 10):
            await items.__anext__()
    await items.aclose()


class _Quiet:
    async def subscribe(self, flt: EventFilter) -> AsyncIterator[StreamItem]:
        await asyncio.sleep(10)
        yield StreamItem("block", 1, {})


def test_idle_stream_yields_keepalives() -> None:
    asyncio.run(_idle_stream())


async def _idle_stream() -> None:
    items = stream_items(_Quiet(), EventFilter(), keepalive_s=0.01)  # type: ignore[arg-type]
    assert await items.__anext__() is None
    await items.aclose()


def test_real_server_serves_sdk_and_websocket(node: FakeNode, admin: Identity) -> None:
    asyncio.run(_real_server(node, admin))


async def _real_server(node: FakeNode, admin: Identity) -> None:
    _two_puts(node, admin)
    server = ApiServer(node, "127.0.0.1", 0)
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        async with AsyncClient(url, admin, node.config) as client:
            assert (await client.chain_info())["height"] == 2
            seen = [item async for item in client.subscribe(contract="kv")]
            assert [i["kind"] for i in seen] == ["block", "event", "block", "event"]
            result = await client.invoke("kv", "put", {"key": "c", "value": 3})
            assert result.ok and result.height == 3
        blocking = await asyncio.to_thread(_sync_subscribe, url, admin)
        assert [i["kind"] for i in blocking] == ["event", "event", "event"]
    finally:
        await server.stop()


def _sync_subscribe(url: str, reader: Identity) -> list[dict[str, object]]:
    with Client(url, reader) as client:
        return list(client.subscribe(blocks=False))


def test_create_app_twice_is_independent(node: FakeNode) -> None:
    assert create_app(node) is not create_app(node)
