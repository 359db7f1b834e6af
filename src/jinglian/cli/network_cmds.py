"""Commands that create and run networks: init, node start."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from jinglian.cli._base import emit, json_option

__all__ = ["init", "node"]


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--orgs", type=click.IntRange(1, 64), required=True, help="Number of organisations.")
@click.option(
    "--crypto",
    type=click.Choice(["default", "gm"]),
    default="default",
    show_default=True,
    help="Crypto suite: default (P-256, SHA-256) or gm (SM2, SM3, SM4).",
)
@click.option(
    "--consensus",
    type=click.Choice(["tbft", "solo"]),
    default="tbft",
    show_default=True,
    help="tbft (BFT, at least 4 validators) or solo (one validator, development).",
)
@click.option("--chain-id", default="jinglian-dev", show_default=True, help="Chain id.")
@click.option(
    "--nodes-per-org", type=click.IntRange(1, 16), default=1, show_default=True, help="Nodes each."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address nodes listen on.")
@click.option(
    "--api-port",
    type=click.IntRange(1, 65535),
    default=8601,
    show_default=True,
    help="API port of node1 (node i gets api-port + i - 1).",
)
@click.option(
    "--p2p-port",
    type=click.IntRange(1, 65535),
    default=9601,
    show_default=True,
    help="Peer port of node1 (node i gets p2p-port + i - 1).",
)
@json_option
def init(directory: Path, as_json: bool, **options: Any) -> None:
    """Create a network in DIRECTORY: CAs, identities, node keys, genesis, node settings.

    DIRECTORY must not exist or be empty. It receives genesis.json,
    network.json (what other commands read to find nodes and identities),
    orgs/<org>/ (CA, admin and client identities) and nodes/<node>/ (keys,
    node.toml, data/).

    \b
    Example:
      jinglian init mynet --orgs 4
      jinglian init gmnet --orgs 2 --crypto gm --consensus solo
    """
    from jinglian.node.init import create_network

    started = time.monotonic()
    created = create_network(directory, **options)
    elapsed = time.monotonic() - started
    manifest = created.manifest

    def lines() -> list[str]:
        nodes = manifest["nodes"]
        validators = sum(1 for n in nodes if n["validator"])
        return [
            f"created network {manifest['chain_id']!r} in {directory} ({elapsed:.2f} s)",
            f"  {options['orgs']} organisations, {len(nodes)} nodes ({validators} validators), "
            f"crypto {manifest['crypto']}, consensus {manifest['consensus']}",
            *(f"  {n['name']} ({n['org']}) api {n['api_url']}" for n in nodes),
            f"start a node:  jinglian node start {directory / nodes[0]['dir']}",
        ]

    emit(as_json, {"directory": str(directory), **manifest}, lines)


@click.group()
def node() -> None:
    """Run a node.

    \b
    Example:
      jinglian node start mynet/nodes/node1
    """


@node.command("start")
@click.argument("node_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def node_start(node_dir: Path) -> None:
    """Run the node in NODE_DIR (its node.toml) until Ctrl-C or SIGTERM.

    \b
    Example:
      jinglian node start mynet/nodes/node1
    """
    from jinglian.node import run_node

    run_node(node_dir)


@node.command("verify")
@click.argument("node_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@json_option
def node_verify(node_dir: Path, as_json: bool) -> None:
    """Replay the whole chain stored in NODE_DIR from genesis and check every block.

    Checks each commit's signatures against the validators, each block's link
    to the previous one, and re-executes every transaction to reproduce the
    transaction, receipt and state roots. Run it with the node stopped.

    \b
    Example:
      jinglian node verify mynet/nodes/node1
    """
    from jinglian.node.verify import verify_node_dir

    report = verify_node_dir(node_dir)
    data = {
        "height": report.height,
        "txs": report.txs,
        "head_hash": report.head_hash.hex(),
        "state_root": report.state_root.hex(),
    }
    emit(
        as_json,
        data,
        lambda: [
            f"verified {report.height} blocks and {report.txs} transactions from genesis",
            f"head        {report.head_hash.hex()}",
            f"state root  {report.state_root.hex()}",
        ],
    )
