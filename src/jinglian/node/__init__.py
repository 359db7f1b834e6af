"""The composition root: configuration, wiring, lifecycle and metrics of a node.

``Node`` wires ledger, mempool and consensus; ``LocalServices`` is what the
REST API calls; ``run_node`` runs a node directory until interrupted. Network
directories are created by ``init.create_network``.
"""

from pathlib import Path


def run_node(node_dir: Path) -> None:
    """Run the node in ``node_dir`` until SIGINT or SIGTERM (imports the node lazily)."""
    from jinglian.node.run import run_node as _run

    _run(node_dir)


__all__ = ["run_node"]
