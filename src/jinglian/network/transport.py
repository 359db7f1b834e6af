"""Authenticated peer connections over asyncio: a listening server and dialling clients.

Each connection carries frames one way, from the dialler (:class:`PeerClient`)
to the listener (:class:`PeerServer`); two nodes that talk both ways use two
connections. The one exception is on gm chains: before any application frame,
both sides prove their SM2 identity with the binding exchange of
:mod:`~jinglian.network.binding` (two frames each way; ADR 0011). That keeps each side's job small: the server authenticates,
reads frames into a bounded receive queue and hands them to ``on_message``;
the client keeps a bounded send queue and reconnects with bounded
exponential backoff.

Every bound is named here. When a bound is hit the offending input is dropped
and the reason logged, never buffered:

- a connection that fails TLS, the binding (``BINDING_TIMEOUT_MS``,
  ``BINDING_FRAME_BYTES_MAX``) or the application identity check is closed;
- a malformed or oversized frame closes that connection only;
- frames arriving faster than ``on_message`` handles them are dropped once the
  peer's receive queue holds ``PEER_RECEIVE_QUEUE_FRAMES_MAX`` frames or
  ``PEER_RECEIVE_QUEUE_BYTES_MAX`` bytes;
- :meth:`PeerClient.send` raises ``Busy`` when ``PEER_SEND_QUEUE_MAX`` frames
  wait (refuse-newest: the caller learns at once and decides what to re-send).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from jinglian.network.framing import encode_frame, read_frame
from jinglian.network.tls import PeerIdentity, PeerTls
from jinglian.types.errors import Busy, InvalidInput, JinglianError

__all__ = [
    "CONNECTION_STABLE_MS",
    "CONNECT_TIMEOUT_MS",
    "PEER_CONNECTIONS_MAX",
    "PEER_IDLE_TIMEOUT_MS",
    "PEER_RECEIVE_QUEUE_BYTES_MAX",
    "PEER_RECEIVE_QUEUE_FRAMES_MAX",
    "PEER_SEND_QUEUE_MAX",
    "PEER_UNACKED_TIMEOUT_MS",
    "PEER_WRITE_TIMEOUT_MS",
    "RECONNECT_BACKOFF_MS_MAX",
    "RECONNECT_BACKOFF_MS_MIN",
    "SERVER_CONNECTIONS_MAX",
    "TLS_HANDSHAKE_TIMEOUT_MS",
    "OnMessage",
    "PeerClient",
    "PeerServer",
    "TransportStats",
    "connect",
]

_log = logging.getLogger(__name__)

SERVER_CONNECTIONS_MAX: Final = 256
"""The most connections a server holds at once, authenticated or not."""

PEER_CONNECTIONS_MAX: Final = 4
"""The most connections one peer certificate may hold open to a server at once."""

PEER_RECEIVE_QUEUE_FRAMES_MAX: Final = 1024
"""The most received frames waiting for ``on_message``, per connection."""

PEER_RECEIVE_QUEUE_BYTES_MAX: Final = 64 * 1024 * 1024
"""The most received payload bytes waiting for ``on_message``, per connection."""

PEER_SEND_QUEUE_MAX: Final = 1024
"""The most frames waiting to be written to one peer; beyond it ``send`` raises Busy."""

PEER_WRITE_TIMEOUT_MS: Final = 10_000
"""How long a write may wait for the peer to read before the connection is dropped."""

TLS_HANDSHAKE_TIMEOUT_MS: Final = 10_000
"""How long the TLS handshake may take."""

CONNECT_TIMEOUT_MS: Final = 3_000
"""How long a dial may take before it is given up (a cut link drops the SYN silently)."""

PEER_UNACKED_TIMEOUT_MS: Final = 5_000
"""A dialled connection whose sent data stays unacknowledged this long is closed by the
kernel (``TCP_USER_TIMEOUT``), so a link cut without a reset is noticed and redialled
instead of waiting out TCP's retransmission backoff."""

PEER_IDLE_TIMEOUT_MS: Final = 15_000
"""A server closes a connection that sent no frame for this long (nodes send status every
second), so connections of a peer that vanished do not hold its ``PEER_CONNECTIONS_MAX``."""

RECONNECT_BACKOFF_MS_MIN: Final = 100
"""The first wait before redialling a peer."""

RECONNECT_BACKOFF_MS_MAX: Final = 30_000
"""The longest wait before redialling a peer; waits double up to it."""

CONNECTION_STABLE_MS: Final = 1_000
"""A connection that stayed up this long restarts the backoff; a shorter one (for
instance one the server refused after TLS 1.3 let us finish first) does not."""

OnMessage = Callable[[PeerIdentity, int, bytes], Awaitable[None] | None]
"""Handles one frame from an authenticated peer: ``on_message(peer, type, payload)``."""


@dataclass(slots=True)
class TransportStats:
    """Counters of what a server or client did, for metrics and tests."""

    connections_accepted: int = 0
    """Connections that passed TLS and the identity check."""
    connections_refused: int = 0
    """Connections closed before or at authentication."""
    frames_received: int = 0
    """Frames handed to ``on_message``."""
    frames_dropped: int = 0
    """Frames dropped because a receive queue was full."""
    frames_sent: int = 0
    """Frames written to a peer."""
    protocol_errors: int = 0
    """Connections closed for a malformed or oversized frame."""
    last_refusal: str = ""
    """Why the latest connection was refused or closed."""


class PeerServer:
    """Accepts peer connections, authenticates them and delivers their frames."""

    def __init__(self, tls: PeerTls, on_message: OnMessage) -> None:
        self._tls = tls
        self._on_message = on_message
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._per_peer: dict[bytes, int] = {}
        self.stats = TransportStats()

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (port 0 picks a free one, see :attr:`port`)."""
        self._server = await asyncio.start_server(
            self._on_connection, host, port, limit=64 * 1024, backlog=SERVER_CONNECTIONS_MAX
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        assert self._server is not None, "server not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._tasks) >= SERVER_CONNECTIONS_MAX:
            self._refuse(f"over SERVER_CONNECTIONS_MAX={SERVER_CONNECTIONS_MAX}")
            writer.close()
            return
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            # ``close`` cancels connection tasks. Ending normally here is on purpose:
            # asyncio 3.11's stream callback calls ``task.exception()`` on a finished
            # handler task, which raises (and logs a traceback) for a cancelled one.
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(asyncio.CancelledError):
                await _close(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = await self._handshake(reader, writer)
        if peer is None:
            return
        if self._per_peer.get(peer.cert_id, 0) >= PEER_CONNECTIONS_MAX:
            self._refuse(f"{peer.common_name!r} is over PEER_CONNECTIONS_MAX")
            return
        self._per_peer[peer.cert_id] = self._per_peer.get(peer.cert_id, 0) + 1
        self.stats.connections_accepted += 1
        try:
            await self._receive(peer, reader)
        finally:
            self._per_peer[peer.cert_id] -= 1
            if not self._per_peer[peer.cert_id]:
                del self._per_peer[peer.cert_id]

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> PeerIdentity | None:
        """TLS, then who the peer is (on gm chains: the binding exchange); None if refused."""
        try:
            await writer.start_tls(
                self._tls.server_context, ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_MS / 1000
            )
        except (ssl.SSLError, OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self._refuse(f"TLS handshake failed: {exc!r}")
            return None
        try:
            return await self._tls.authenticate_connection(reader, writer, is_client=False)
        except (ssl.SSLError, OSError) as exc:
            self._refuse(f"peer authentication failed: {exc!r}")
        except JinglianError as exc:
            self._refuse(f"{exc.code}: {exc.message}")
        return None

    async def _receive(self, peer: PeerIdentity, reader: asyncio.StreamReader) -> None:
        """Read frames into a bounded queue that a second task drains into ``on_message``."""
        inbox = _Inbox()
        dispatcher = asyncio.create_task(self._dispatch(peer, inbox))
        try:
            await self._read_into(peer, reader, inbox)
        finally:
            await inbox.close()
            await dispatcher

    async def _read_into(
        self, peer: PeerIdentity, reader: asyncio.StreamReader, inbox: _Inbox
    ) -> None:
        while True:
            try:
                async with asyncio.timeout(PEER_IDLE_TIMEOUT_MS / 1000):
                    frame = await read_frame(reader)
            except TimeoutError:
                self._note(f"closing {peer.common_name!r}: silent for {PEER_IDLE_TIMEOUT_MS} ms")
                return
            except InvalidInput as exc:
                self.stats.protocol_errors += 1
                self._note(f"closing {peer.common_name!r}: {exc.code}: {exc.message}")
                return
            except (ssl.SSLError, OSError) as exc:
                self._note(f"connection of {peer.common_name!r} failed: {exc!r}")
                return
            if frame is None:
                return
            if not inbox.offer(frame.type, frame.payload):
                self.stats.frames_dropped += 1
                _log.warning("dropped a frame from %r: receive queue full", peer.common_name)

    async def _dispatch(self, peer: PeerIdentity, inbox: _Inbox) -> None:
        while (item := await inbox.take()) is not None:
            self.stats.frames_received += 1
            try:
                result = self._on_message(peer, *item)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                _log.exception("on_message failed for a frame from %r", peer.common_name)

    def _refuse(self, reason: str) -> None:
        self.stats.connections_refused += 1
        self._note(reason)

    def _note(self, reason: str) -> None:
        self.stats.last_refusal = reason
        _log.warning("peer connection: %s", reason)


class _Inbox:
    """A receive queue bounded in frames and bytes; offers beyond the bound are refused."""

    def __init__(self) -> None:
        self._items: deque[tuple[int, bytes]] = deque()
        self._bytes = 0
        self._closed = False
        self._ready = asyncio.Event()

    def offer(self, message_type: int, payload: bytes) -> bool:
        if (
            len(self._items) >= PEER_RECEIVE_QUEUE_FRAMES_MAX
            or self._bytes + len(payload) > PEER_RECEIVE_QUEUE_BYTES_MAX
        ):
            return False
        self._items.append((message_type, payload))
        self._bytes += len(payload)
        self._ready.set()
        return True

    async def take(self) -> tuple[int, bytes] | None:
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        self._bytes -= len(item[1])
        return item

    async def close(self) -> None:
        self._closed = True
        self._ready.set()


class PeerClient:
    """Dials one peer, keeps the connection up and writes queued frames to it."""

    def __init__(
        self,
        tls: PeerTls,
        host: str,
        port: int,
        *,
        server_hostname: str | None = None,
        backoff_ms_min: int = RECONNECT_BACKOFF_MS_MIN,
        backoff_ms_max: int = RECONNECT_BACKOFF_MS_MAX,
    ) -> None:
        self._tls = tls
        self._host, self._port = host, port
        self._server_hostname = server_hostname or host
        self._backoff_ms_min = max(1, min(backoff_ms_min, RECONNECT_BACKOFF_MS_MAX))
        self._backoff_ms_max = max(
            self._backoff_ms_min, min(backoff_ms_max, RECONNECT_BACKOFF_MS_MAX)
        )
        self._queue: deque[bytes] = deque()
        self._queued = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.peer: PeerIdentity | None = None
        """The authenticated server while connected, else None."""
        self.connected = asyncio.Event()
        """Set while a connection is up and authenticated."""
        self.stats = TransportStats()

    def start(self) -> None:
        """Start dialling in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    def send(self, message_type: int, payload: bytes) -> None:
        """Queue one frame; ``Busy`` if ``PEER_SEND_QUEUE_MAX`` frames already wait.

        Frames queued while disconnected go out after the next connection; a
        frame being written when the connection drops is lost (the layers above
        re-send what matters, as consensus and block sync do).
        """
        if len(self._queue) >= PEER_SEND_QUEUE_MAX:
            raise Busy(
                f"send queue to {self._host}:{self._port} holds {PEER_SEND_QUEUE_MAX} frames"
            )
        self._queue.append(encode_frame(message_type, payload))
        self._queued.set()

    async def close(self) -> None:
        """Stop dialling and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff_ms = self._backoff_ms_min
        while True:
            started = asyncio.get_running_loop().time()
            authenticated = await self._connect_once()
            lived_ms = (asyncio.get_running_loop().time() - started) * 1000
            if authenticated and lived_ms >= CONNECTION_STABLE_MS:
                backoff_ms = self._backoff_ms_min
            delay_ms = backoff_ms * random.uniform(0.5, 1.0)
            backoff_ms = min(backoff_ms * 2, self._backoff_ms_max)
            await asyncio.sleep(delay_ms / 1000)

    async def _connect_once(self) -> bool:
        """One connection's life; True if it authenticated (so the backoff restarts)."""
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_MS / 1000):
                reader, writer = await asyncio.open_connection(
                    self._host,
                    self._port,
                    ssl=self._tls.client_context,
                    server_hostname=self._server_hostname,
                    ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_MS / 1000,
                )
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            self._refuse(f"dial {self._host}:{self._port} failed: {exc!r}")
            return False
        _set_unacked_timeout(writer)
        try:
            try:
                self.peer = await self._tls.authenticate_connection(reader, writer, is_client=True)
            except (ssl.SSLError, OSError) as exc:
                self._refuse(f"peer authentication failed: {exc!r}")
                return False
            except JinglianError as exc:
                self._refuse(f"{exc.code}: {exc.message}")
                return False
            self.stats.connections_accepted += 1
            self.connected.set()
            await self._pump(reader, writer)
            return True
        finally:
            self.connected.clear()
            self.peer = None
            await _close(writer)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Write queued frames until the peer closes; past the binding it sends nothing here."""
        closed = asyncio.create_task(reader.read(1))
        try:
            while not closed.done():
                if not self._queue:
                    self._queued.clear()
                    queued = asyncio.create_task(self._queued.wait())
                    try:
                        await asyncio.wait({closed, queued}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        queued.cancel()
                    continue
                if not await self._write(writer, self._queue.popleft()):
                    return
            self._note("peer closed the connection")
        finally:
            # asyncio.wait rather than a suppressed await, which would swallow a cancellation
            # of this task; the read's own error (if any) is retrieved and dropped.
            closed.cancel()
            await asyncio.wait({closed})
            if not closed.cancelled():
                closed.exception()

    async def _write(self, writer: asyncio.StreamWriter, frame: bytes) -> bool:
        try:
            writer.write(frame)
            async with asyncio.timeout(PEER_WRITE_TIMEOUT_MS / 1000):
                await writer.drain()
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            self._note(f"write to {self._host}:{self._port} failed: {exc!r}")
            return False
        self.stats.frames_sent += 1
        return True

    def _refuse(self, reason: str) -> None:
        self.stats.connections_refused += 1
        self._note(reason)

    def _note(self, reason: str) -> None:
        self.stats.last_refusal = reason
        _log.info("peer %s:%s: %s", self._host, self._port, reason)


def connect(
    tls: PeerTls,
    host: str,
    port: int,
    *,
    server_hostname: str | None = None,
    backoff_ms_min: int = RECONNECT_BACKOFF_MS_MIN,
    backoff_ms_max: int = RECONNECT_BACKOFF_MS_MAX,
) -> PeerClient:
    """A started :class:`PeerClient` for ``host:port`` (call inside a running event loop)."""
    client = PeerClient(
        tls,
        host,
        port,
        server_hostname=server_hostname,
        backoff_ms_min=backoff_ms_min,
        backoff_ms_max=backoff_ms_max,
    )
    client.start()
    return client


def _set_unacked_timeout(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if sock is not None and option is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, PEER_UNACKED_TIMEOUT_MS)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close the connection and wait at most a second for it to go."""
    # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
    # arrives just as the awaited call ends, and PeerClient.close then waits forever.
    writer.close()
    with contextlib.suppress(ssl.SSLError, OSError, TimeoutError):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
