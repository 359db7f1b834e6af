"""Helpers shared by the transport tests: a recording server, a bounded run, a poll."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from jinglian.network.tls import PeerIdentity, PeerTls
from jinglian.network.transport import PeerServer

HOST = "127.0.0.1"


class Harness:
    """A server on an ephemeral port that records every delivered frame."""

    def __init__(self, tls: PeerTls) -> None:
        self.received: list[tuple[PeerIdentity, int, bytes]] = []
        self.arrived = asyncio.Event()
        self.server = PeerServer(tls, self._on_message)

    def _on_message(self, peer: PeerIdentity, message_type: int, payload: bytes) -> None:
        self.received.append((peer, message_type, payload))
        self.arrived.set()


def run(body: Callable[[], Awaitable[None]]) -> None:
    """Run one test body in a fresh event loop, failing after 20 seconds."""
    asyncio.run(asyncio.wait_for(body(), 20))


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Poll ``condition`` every 10 ms; AssertionError if it stays false for ``seconds``."""
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")
