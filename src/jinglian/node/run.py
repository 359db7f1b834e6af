"""``run_node``: start a node and its REST API, run until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from jinglian.node.config import load_node_config
from jinglian.node.local import LocalServices
from jinglian.node.node import Node

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
    from jinglian.api.server import serve_api

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    api = asyncio.create_task(
        serve_api(LocalServices(node), node.config.api_host, node.config.api_port)
    )
    log.info(
        "REST API on http://%s:%d/api/v1 (docs at /docs)",
        node.config.api_host,
        node.config.api_port,
    )
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({api, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not api.done():
        api.cancel()
    elif api.exception() is not None:
        raise api.exception()  # type: ignore[misc]
