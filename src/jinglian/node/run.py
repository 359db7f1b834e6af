"""``run_node``: start a node and its REST API, run until SIGINT or SIGTERM.

Shutdown order: stop accepting new work, answer every client still waiting for
a commit with a ``busy`` error (they may resend the same bytes later: replay
protection makes that safe), let the API finish open requests, then stop
consensus after the block in progress and close the store.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from jinglian.node.config import load_node_config
from jinglian.node.local import LocalServices
from jinglian.node.node import Node
from jinglian.types.errors import Busy

__all__ = ["run_node"]

log = logging.getLogger("jinglian.node")


def run_node(node_dir: Path) -> None:
    """Run the node in ``node_dir`` (its ``node.toml``) until interrupted; stop cleanly."""
    config = load_node_config(node_dir)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    node = Node(config)
    node.start()
    try:
        asyncio.run(_serve(node))
    finally:
        node.stop()
        log.info("node %s stopped at height %d", config.name, node.ledger.head().height)


async def _serve(node: Node) -> None:
    from jinglian.api.server import ApiServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = ApiServer(LocalServices(node), node.config.api_host, node.config.api_port)
    await server.start()
    log.info("REST API on http://%s:%d/api/v1 (docs at /docs)", node.config.api_host, server.port)
    stopped = asyncio.create_task(server.wait())
    signalled = asyncio.create_task(stop.wait())
    await asyncio.wait({stopped, signalled}, return_when=asyncio.FIRST_COMPLETED)
    signalled.cancel()
    node.events.close(
        Busy("the node is stopping; resend the same transaction bytes once it is back")
    )
    await server.stop()
