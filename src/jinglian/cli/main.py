"""The ``jinglian`` command group and its entry point."""

from __future__ import annotations

import click

# These modules add their commands to groups defined elsewhere: contract_cmds and txfile_cmds
# to chain_cmds' contract and tx groups, directory_demo and directory_watch to directory.
from jinglian.cli import (  # noqa: F401  (registers commands)
    contract_cmds,
    directory_demo,
    directory_watch,
    txfile_cmds,
)
from jinglian.cli._base import JinglianGroup
from jinglian.cli.bench_cmds import bench
from jinglian.cli.chain_cmds import block, chain, contract, query, state, tx
from jinglian.cli.config_cmds import config
from jinglian.cli.devnet_cmds import devnet
from jinglian.cli.directory_cmds import directory
from jinglian.cli.evidence_cmds import evidence
from jinglian.cli.exchange_cmds import exchange
from jinglian.cli.indexer_cmds import indexer
from jinglian.cli.network_cmds import init, node
from jinglian.cli.proposal_cmds import proposal

__all__ = ["cli", "main"]


@click.group(
    name="jinglian", cls=JinglianGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="jinglian", message="jinglian %(version)s")
def cli() -> None:
    """jinglian: a consortium blockchain. Create a network, run nodes, call contracts.

    Commands that talk to a node find it from --net DIR, $JINGLIAN_NET, or the
    nearest network.json above the current directory. Every command takes
    --help; most take --json.

    \b
    Example:
      jinglian init mynet --orgs 1 --consensus solo
      jinglian node start mynet/nodes/node1
      cd mynet && jinglian chain info
    """


for command in (
    init,
    node,
    devnet,
    tx,
    query,
    state,
    block,
    contract,
    proposal,
    config,
    chain,
    evidence,
    directory,
    indexer,
    bench,
    exchange,
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="jinglian")
