"""``jinglian indexer``: follow a node into SQL (``jinglian.indexer``), show its status, rebuild it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import click
import httpx

from jinglian.apps.directory.index import add_directory_handler
from jinglian.cli._base import Target, emit, json_option, target_options
from jinglian.client import AsyncClient, find_network_dir
from jinglian.indexer import Database, IndexedBlock, Indexer, IndexState, open_database
from jinglian.types.errors import ConfigError, JinglianError

__all__ = ["indexer"]

INDEX_FILE = "index.sqlite"
"""The default index: a SQLite file in the network directory."""
PROGRESS_EVERY_S = 2.0
"""Seconds between progress lines while indexing."""

db_option = click.option(
    "--db",
    "db_url",
    help="Database URL: sqlite:///FILE or postgresql://USER@HOST:PORT/DB "
    f"(default: sqlite:///NET/{INDEX_FILE}).",
)
directory_option = click.option(
    "--directory-contract",
    "directory_contract",
    default="directory",
    show_default=True,
    help="Name the directory contract is deployed under (its events fill the dir_* tables).",
)


def add_app_handlers(idx: Indexer, directory_contract: str) -> None:
    """Register every known app's handler: the apps' tables are filled with the index."""
    add_directory_handler(idx, directory_contract)


@click.group()
def indexer() -> None:
    """Index the chain into SQL: blocks, transactions and contract events.

    The indexer reads a node's blocks as a member identity, writes each block
    with its transactions and events in one database transaction, resumes
    where it stopped after any crash, and refuses a node of another chain.
    SQLite by default (NET/index.sqlite), PostgreSQL by URL.

    \b
    Example:
      jinglian indexer run --net mynet
      jinglian indexer status --net mynet --json
      jinglian indexer run --db postgresql://indexer@127.0.0.1:5432/chain
    """


@indexer.command("run")
@db_option
@click.option("--once", is_flag=True, help="Index up to the node's head, then exit.")
@directory_option
@target_options
@json_option
def indexer_run(
    db_url: str | None, once: bool, directory_contract: str, as_json: bool, **target: Any
) -> None:
    """Index every block up to the head, then follow new blocks until Ctrl-C.

    Progress goes to stderr; with --once the command exits at the head and
    prints the index state.

    \b
    Example:
      jinglian indexer run --net mynet
      jinglian indexer run --net mynet --once --json
      jinglian indexer run --db postgresql://indexer@127.0.0.1:5432/chain --identity org1/client
    """
    tgt = Target(**target)
    database = open_database(db_url or _default_url(tgt))
    progress = _Progress(quiet=as_json)
    try:
        state: IndexState | None = asyncio.run(
            _run(tgt, database, progress, once=once, directory_contract=directory_contract)
        )
    except KeyboardInterrupt:
        state = database.load_state()
    finally:
        database.close()
    _emit_state(as_json, database, state, progress)


@indexer.command("status")
@db_option
@target_options
@json_option
def indexer_status(db_url: str | None, as_json: bool, **target: Any) -> None:
    """Show the index's chain, last height and row counts, and how far the node is ahead.

    \b
    Example:
      jinglian indexer status --net mynet
      jinglian indexer status --db postgresql://indexer@127.0.0.1:5432/chain --json
    """
    tgt = Target(**target)
    database = open_database(db_url or _default_url(tgt))
    try:
        state = database.load_state() if database.has_index() else None
        rows = database.count_rows() if state is not None else {}
    finally:
        database.close()
    head = _node_head(tgt)
    data = {
        "db": database.url,
        "chain_id": None if state is None else state.chain_id,
        "genesis_hash": None if state is None else state.genesis_hash,
        "last_height": 0 if state is None else state.last_height,
        "last_hash": None if state is None else state.last_hash,
        "rows": rows,
        "node_height": head,
        "behind": None if head is None else max(head - (state.last_height if state else 0), 0),
    }
    emit(as_json, data, lambda: _status_lines(data))


@indexer.command("rebuild")
@db_option
@directory_option
@target_options
@json_option
def indexer_rebuild(
    db_url: str | None, directory_contract: str, as_json: bool, **target: Any
) -> None:
    """Drop every index table and index the chain again from block 1 up to the head.

    Stop any `jinglian indexer run` on the same database first.

    \b
    Example:
      jinglian indexer rebuild --net mynet
    """
    tgt = Target(**target)
    database = open_database(db_url or _default_url(tgt))
    progress = _Progress(quiet=as_json)
    try:
        state = asyncio.run(_rebuild(tgt, database, progress, directory_contract))
    finally:
        database.close()
    _emit_state(as_json, database, state, progress)


def _default_url(tgt: Target) -> str:
    net_dir = find_network_dir(tgt.net)
    if net_dir is None:
        raise ConfigError(
            "no network found for the default index: pass --db URL, or --net DIR "
            "(the index is then DIR/index.sqlite)"
        )
    return f"sqlite:///{(Path(net_dir) / INDEX_FILE).resolve()}"


def _async_client(tgt: Target) -> AsyncClient:
    with tgt.client(sign=True) as client:
        return AsyncClient(client.base_url, client.identity)


async def _run(
    tgt: Target, database: Database, progress: _Progress, *, once: bool, directory_contract: str
) -> IndexState:
    client = _async_client(tgt)
    try:
        idx = Indexer(client, database, on_block=progress.on_block, on_notice=progress.notice)
        add_app_handlers(idx, directory_contract)
        state = await idx.open()
        progress.start(state)
        if once:
            return await idx.sync()
        await idx.follow()
        raise AssertionError("follow returns only by raising")
    finally:
        await client.aclose()


async def _rebuild(
    tgt: Target, database: Database, progress: _Progress, directory_contract: str
) -> IndexState:
    client = _async_client(tgt)
    try:
        idx = Indexer(client, database, on_block=progress.on_block, on_notice=progress.notice)
        add_app_handlers(idx, directory_contract)
        progress.start(None)
        return await idx.rebuild()
    finally:
        await client.aclose()


class _Progress:
    """Progress lines on stderr while indexing: height, blocks/s, txs/s."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.blocks = 0
        self.txs = 0
        self.started = time.monotonic()
        self._shown = self.started

    def start(self, state: IndexState | None) -> None:
        """Note the starting point."""
        self.started = self._shown = time.monotonic()
        if state is not None and not self.quiet:
            click.echo(f"index at height {state.last_height}; indexing from there", err=True)

    def on_block(self, indexed: IndexedBlock) -> None:
        """Count a block; print a line every ``PROGRESS_EVERY_S``."""
        self.blocks += 1
        self.txs += len(indexed.txs)
        now = time.monotonic()
        if self.quiet or now - self._shown < PROGRESS_EVERY_S:
            return
        self._shown = now
        elapsed = max(now - self.started, 1e-9)
        click.echo(
            f"height {indexed.block.height}: {self.blocks} blocks, {self.txs} txs "
            f"({self.blocks / elapsed:.0f} blocks/s, {self.txs / elapsed:.0f} txs/s)",
            err=True,
        )

    def notice(self, text: str) -> None:
        """A reconnect or similar notice."""
        click.echo(f"warning: {text}", err=True)

    def summary(self) -> dict[str, float]:
        """Blocks, transactions and seconds of this run."""
        return {
            "blocks": self.blocks,
            "txs": self.txs,
            "seconds": round(time.monotonic() - self.started, 3),
        }


def _emit_state(
    as_json: bool, database: Database, state: IndexState | None, progress: _Progress
) -> None:
    run = progress.summary()
    data = {
        "db": database.url,
        "chain_id": None if state is None else state.chain_id,
        "last_height": 0 if state is None else state.last_height,
        "last_hash": None if state is None else state.last_hash,
        "indexed": run,
    }
    emit(
        as_json,
        data,
        lambda: [
            f"index       {data['db']}",
            f"height      {data['last_height']}  {data['last_hash']}",
            f"this run    {run['blocks']:.0f} blocks, {run['txs']:.0f} txs in {run['seconds']} s",
        ],
    )


def _node_head(tgt: Target) -> int | None:
    try:
        with tgt.client() as client:
            return int(client.chain_info()["height"])
    except (JinglianError, httpx.TransportError):
        return None


def _status_lines(data: dict[str, Any]) -> list[str]:
    rows = data["rows"]
    node = "unreachable" if data["node_height"] is None else f"{data['node_height']}"
    return [
        f"index       {data['db']}",
        f"chain       {data['chain_id'] or '(empty index)'}",
        f"height      {data['last_height']}  {data['last_hash'] or ''}".rstrip(),
        f"rows        {rows.get('blocks', 0)} blocks, {rows.get('txs', 0)} txs, "
        f"{rows.get('events', 0)} events",
        f"node head   {node}"
        + ("" if data["behind"] is None else f"  ({data['behind']} blocks to index)"),
    ]
