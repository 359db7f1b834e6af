"""Serve the API with uvicorn inside the caller's asyncio loop.

The node runs ``await serve_api(services, host, port)`` as one of its tasks;
cancelling that task shuts the server down gracefully (open streams get
``SHUTDOWN_GRACE_S`` to finish). uvicorn's own signal handling is disabled:
signals belong to the node, which stops the API by cancelling it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn

from jinglian.api.app import create_app
from jinglian.node.services import NodeServices
from jinglian.types.errors import ConfigError

__all__ = ["SHUTDOWN_GRACE_S", "ApiServer", "serve_api"]

SHUTDOWN_GRACE_S = 3
"""Seconds open connections get to finish when the API stops."""
LISTEN_BACKLOG = 2048
"""Pending connections the API socket queues."""


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handlers to its host process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing: the node owns SIGINT and SIGTERM."""
        yield


class ApiServer:
    """A running API server; ``port`` is the bound port once ``start`` returns."""

    def __init__(self, services: NodeServices, host: str, port: int) -> None:
        config = uvicorn.Config(
            create_app(services),
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and start serving; raises ``ConfigError`` if the address cannot be bound."""
        sock = _bind(self._server.config.host, self._server.config.port)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise OSError("the API server stopped while starting")
            await asyncio.sleep(0.01)

    @property
    def port(self) -> int:
        """The bound TCP port (useful when started with port 0)."""
        sockets = self._server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting, let open requests finish, close."""
        self._server.should_exit = True
        if self._task is not None:
            await self._task

    async def wait(self) -> None:
        """Until the server stops."""
        if self._task is not None:
            await asyncio.shield(self._task)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket, so a taken port is a clear error rather than uvicorn's exit."""
    try:
        family, kind, proto, _, _ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        # The TCP protocol number matters: asyncio sets TCP_NODELAY on accepted
        # connections only for IPPROTO_TCP sockets, and without it every
        # response waits for the client's delayed ACK (about 40 ms).
        sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}; is another node using this port? "
            "change api_port in node.toml"
        ) from exc
    return sock


async def serve_api(services: NodeServices, host: str, port: int) -> None:
    """Serve the REST API on ``host:port`` until cancelled."""
    server = ApiServer(services, host, port)
    await server.start()
    try:
        await server.wait()
    finally:
        await server.stop()
