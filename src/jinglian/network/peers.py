"""A node's place in the member network: one listener, one dialler per configured peer.

``PeerNetwork`` runs the asyncio side of the transport on a thread of its own,
so the rest of the node (consensus thread, API) calls plain methods:
``broadcast`` and ``send_to`` queue a frame for the peers' connections (thread
safe, never blocking; a full send queue drops the frame with a logged reason,
the layers above re-send what matters) and ``on_message(peer, type, payload)``
is called on the network thread for every frame an authenticated peer sends.
It must return quickly: the node hands heavy work to its own threads.

Peers are configured as ``host:port`` (TLS checks ``host`` against the names
in the peer's certificate) or ``name@host:port`` (TLS checks ``name``, so the
dialler reaches the node it meant to even where addresses are not in the
certificate, as across hosts).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jinglian.network.tls import PeerIdentity, PeerTls
from jinglian.network.transport import PeerClient, PeerServer
from jinglian.types.errors import Busy, ConfigError

__all__ = ["PeerAddress", "PeerNetwork", "parse_peer_address"]

log = logging.getLogger("jinglian.network.peers")

START_TIMEOUT_S = 10.0
PEER_REDIAL_MS_MAX = 1_000
"""Longest wait before redialling a member peer: a restarted validator must hear from its
peers within about a second, or it misses proposals and votes (and, as proposer, stalls a
round); one dial a second to a node that is down costs nothing."""
DROP_LOG_EVERY = 1000
"""A full send queue is logged once per this many dropped frames."""


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """Where a peer listens, and the name its certificate must carry (if known)."""

    host: str
    port: int
    name: str | None = None

    def __str__(self) -> str:
        where = f"{self.host}:{self.port}"
        return f"{self.name}@{where}" if self.name else where


def parse_peer_address(text: str) -> PeerAddress:
    """Parse ``host:port`` or ``name@host:port``; ``ConfigError`` if it is neither."""
    name, _, where = text.rpartition("@")
    host, sep, port = where.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ConfigError(f"peer address {text!r} is not host:port or name@host:port")
    return PeerAddress(host.strip("[]"), int(port), name or None)


OnPeerMessage = Callable[[PeerIdentity, int, bytes], None]


class PeerNetwork:
    """The listener and the diallers of one node, on their own event loop thread."""

    def __init__(
        self,
        tls: PeerTls,
        listen: tuple[str, int],
        peers: Sequence[PeerAddress],
        on_message: OnPeerMessage,
    ) -> None:
        self._tls = tls
        self._listen = listen
        self._peers = list(peers)
        self._on_message = on_message
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: PeerServer | None = None
        self._clients: list[PeerClient] = []
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.frames_dropped = 0
        """Frames not queued because a peer's send queue was full."""

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen and start dialling; raises ``ConfigError`` if the port cannot be bound."""
        self._thread = threading.Thread(target=self._run, name="p2p", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise ConfigError("peer network did not start in time")
        if self._failure is not None:
            raise ConfigError(
                f"cannot listen for peers on {self._listen[0]}:{self._listen[1]}: {self._failure}"
            )

    def stop(self) -> None:
        """Close every connection and stop the thread."""
        if self._thread is None or not self._loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
        try:
            future.result(timeout=10)
        except Exception:
            log.exception("closing the peer network failed")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    @property
    def port(self) -> int:
        """The port the listener is bound to."""
        assert self._server is not None, "not started"
        return self._server.port

    # -- sending (any thread) --------------------------------------------------------------------

    def broadcast(self, message_type: int, payload: bytes, *, connected_only: bool = False) -> None:
        """Queue one frame for every peer (with ``connected_only``, every peer connected now:
        frames for a peer that is down otherwise wait in its queue until it is back)."""
        self._loop.call_soon_threadsafe(self._send_all, message_type, payload, connected_only)

    def send_to(self, peer: PeerIdentity, message_type: int, payload: bytes) -> None:
        """Queue one frame for the peer with this identity (dropped if not connected)."""
        self._loop.call_soon_threadsafe(self._send_one, peer.cert_id, message_type, payload)

    def connected_peers(self) -> list[PeerIdentity]:
        """The peers this node's diallers are connected to now."""
        return [c.peer for c in self._clients if c.peer is not None]

    # -- the loop thread -------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._open())
        except OSError as exc:
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _open(self) -> None:
        self._server = PeerServer(self._tls, self._deliver)
        await self._server.start(*self._listen)
        for address in self._peers:
            client = PeerClient(
                self._tls,
                address.host,
                address.port,
                server_hostname=address.name or address.host,
                backoff_ms_max=PEER_REDIAL_MS_MAX,
            )
            client.start()
            self._clients.append(client)

    async def _close(self) -> None:
        for client in self._clients:
            await client.close()
        if self._server is not None:
            await self._server.close()

    def _deliver(self, peer: PeerIdentity, message_type: int, payload: bytes) -> None:
        self._on_message(peer, message_type, payload)

    def _send_all(self, message_type: int, payload: bytes, connected_only: bool) -> None:
        for client in self._clients:
            if not connected_only or client.peer is not None:
                self._queue(client, message_type, payload)

    def _send_one(self, cert_id: bytes, message_type: int, payload: bytes) -> None:
        for client in self._clients:
            if client.peer is not None and client.peer.cert_id == cert_id:
                self._queue(client, message_type, payload)
                return

    def _queue(self, client: PeerClient, message_type: int, payload: bytes) -> None:
        try:
            client.send(message_type, payload)
        except Busy as exc:
            self.frames_dropped += 1
            if self.frames_dropped % DROP_LOG_EVERY == 1:
                log.warning(
                    "dropped a frame of type %d (%d so far): %s",
                    message_type,
                    self.frames_dropped,
                    exc.message,
                )
