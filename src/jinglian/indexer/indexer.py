"""``Indexer``: follow one node into the index, block by block, never skipping or repeating one.

Ordering rules:

- Blocks are written strictly in height order, each with all its
  transactions and events and the new ``last_height`` in one database
  transaction (``Database.write_block``); the indexer resumes from
  ``last_height + 1`` after any crash.
- Each block must link to the last indexed one (``prev_hash``), and the
  node's block at the last indexed height must carry the indexed hash; the
  index records the chain id and genesis hash it holds. Any mismatch stops
  the indexer with ``WrongChain`` or ``InvalidBlock``: the node serves a
  different chain, and no row of it is written.
- Catch-up reads ``GET /blocks/{h}`` and its transactions with receipts a
  page at a time (``GET /blocks/{h}/txs``) through the SDK,
  up to ``FETCH_REQUESTS_MAX`` requests and ``PREFETCH_BLOCKS_MAX`` blocks
  ahead at once; writes stay in order. Live, the indexer follows the node's
  block stream and fills any gap by height, so a dropped stream message
  or a reconnect loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from sqlalchemy import MetaData
from websockets.exceptions import WebSocketException

from jinglian.client import AsyncClient
from jinglian.client.records import field
from jinglian.indexer.records import (
    BlockInfo,
    IndexedBlock,
    TxInfo,
    parse_block,
    parse_tx_record,
)
from jinglian.indexer.store import Database, Handler, IndexState
from jinglian.types.errors import (
    Busy,
    DecodeError,
    InvalidBlock,
    NotFound,
    Timeout,
    WrongChain,
    error_from_code,
)

__all__ = [
    "FETCH_REQUESTS_MAX",
    "FOLLOW_POLL_S",
    "PREFETCH_BLOCKS_MAX",
    "RECONNECT_PAUSE_S_MAX",
    "STREAM_BACKLOG_MAX",
    "Indexer",
]

T = TypeVar("T")

FETCH_REQUESTS_MAX = 16
"""Requests to the node in flight at once while catching up."""
PREFETCH_BLOCKS_MAX = 8
TXS_PAGE = 500
"""Transactions per ``GET /blocks/{h}/txs`` request (the node's page limit)."""
"""Blocks fetched ahead of the one being written."""
FOLLOW_POLL_S = 5.0
"""With no stream message for this long, the indexer asks the node for its head anyway."""
RECONNECT_PAUSE_S_MIN = 0.5
RECONNECT_PAUSE_S_MAX = 10.0
"""Longest pause before reconnecting to a node that went away."""
STREAM_BACKLOG_MAX = 256
"""Stream messages held while a block is being written."""
BLOCKS_ONLY = "-"
"""A contract filter no contract name can match: the node then streams block messages only
(the indexer reads events from the transaction records, not from the stream)."""


class Indexer:
    """Follows one node (through ``client``, which must hold a member identity) into ``database``.

    ``on_block`` is called after each block is committed to the index;
    ``on_notice`` with a sentence when the indexer loses the node and
    reconnects. Register handlers with ``add_handler`` before ``sync``,
    ``follow`` or ``rebuild``.
    """

    def __init__(
        self,
        client: AsyncClient,
        database: Database,
        *,
        on_block: Callable[[IndexedBlock], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        """The SDK client of the followed node."""
        self.database = database
        """The index database."""
        self._on_block = on_block
        self._on_notice = on_notice
        self._state: IndexState | None = None
        self._requests: asyncio.Semaphore | None = None
        self._requests_loop: asyncio.AbstractEventLoop | None = None

    @property
    def state(self) -> IndexState | None:
        """What the index holds, once ``open`` has run."""
        return self._state

    def add_handler(self, contract: str, handler: Handler, tables: MetaData | None = None) -> None:
        """Call ``handler`` for each event ``contract`` emits, in the block's transaction.

        ``tables`` (the app's own ``MetaData``) are created with the index and
        dropped and recreated by ``rebuild``.
        """
        self.database.add_handler(contract, handler, tables)
        if self._state is not None and tables is not None:
            self.database.create()

    async def open(self) -> IndexState:
        """Create missing tables and check that the node serves the chain the index holds."""
        self.database.create()
        info = await self.client.chain_info()
        chain_id = field(info, "chain_id", str, "chain info")
        genesis_hash = field(info, "genesis_hash", str, "chain info").lower()
        state = self.database.load_state()
        if state is None:
            state = self.database.start_state(chain_id, genesis_hash)
        elif (state.chain_id, state.genesis_hash) != (chain_id, genesis_hash):
            raise WrongChain(
                f"the index in {self.database.url} holds chain {state.chain_id!r} (genesis "
                f"{state.genesis_hash[:16]}...), but the node at {self.client.base_url} serves "
                f"chain {chain_id!r} (genesis {genesis_hash[:16]}...); use another --db or that "
                "chain's node"
            )
        await self._check_last_block(state)
        self._state = state
        return state

    async def _check_last_block(self, state: IndexState) -> None:
        """The node's block at the last indexed height must be the indexed one."""
        if state.last_height == 0:
            return
        try:
            record = await self._request(self.client.get_block(state.last_height))
        except NotFound:
            return  # the node is behind the index; the prev_hash link checks the next block
        node_hash = parse_block(record, state.last_height).hash
        if node_hash != state.last_hash:
            raise InvalidBlock(_fork_message(state.last_height, node_hash, state.last_hash))

    async def sync(self, until: int | None = None) -> IndexState:
        """Index every block up to the node's head (or ``until``, if lower); the new state."""
        state = self._state or await self.open()
        info = await self.client.chain_info()
        head = field(info, "height", int, "chain info")
        last = head if until is None else min(head, until)
        await self._index_range(state.last_height + 1, last)
        assert self._state is not None
        return self._state

    async def rebuild(self) -> IndexState:
        """Drop every index table (and the handlers'), then index again from block 1."""
        self.database.drop()
        self._state = None
        await self.open()
        return await self.sync()

    async def follow(self) -> None:
        """Index up to the head, then follow the node's stream until cancelled.

        A lost node, a dropped stream or a refused reconnect is retried with a
        growing pause; a wrong chain, a fork or a database failure raises.
        """
        if self._state is None:
            await self.open()
        pause = RECONNECT_PAUSE_S_MIN
        while True:
            try:
                await self._follow_stream()
                pause = RECONNECT_PAUSE_S_MIN
            except (httpx.TransportError, OSError, WebSocketException, Busy, Timeout) as exc:
                self._notice(
                    f"lost the node at {self.client.base_url} ({exc.__class__.__name__}: "
                    f"{exc}); retrying in {pause:g} s"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECONNECT_PAUSE_S_MAX)

    async def _follow_stream(self) -> None:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(STREAM_BACKLOG_MAX)
        reader = asyncio.create_task(self._read_stream(queue))
        try:
            await self.sync()  # blocks committed before the stream opened
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), FOLLOW_POLL_S)
                except TimeoutError:
                    await self.sync()
                    continue
                if message is None:
                    await reader  # raises what ended the stream, if anything
                    return
                await self._on_stream_message(message)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def _read_stream(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        try:
            async for message in self.client.subscribe(BLOCKS_ONLY, blocks=True):
                await queue.put(message)
        finally:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    async def _on_stream_message(self, message: dict[str, Any]) -> None:
        """A new block fills the gap up to it; an error ends the stream; others are ignored."""
        kind = message.get("kind")
        if kind == "error":
            error = message.get("error") or {}
            raise error_from_code(str(error.get("code", "error")), str(error.get("message", "")))
        if kind != "block":
            return
        data = message.get("data")
        height = field(message, "height", int, "stream message")
        state = self._state
        assert state is not None
        if height > state.last_height:
            await self.sync(until=height)
            return
        indexed_hash = self.database.get_block_hash(height)
        node_hash = data.get("hash") if isinstance(data, dict) else None
        if indexed_hash is not None and node_hash is not None and node_hash != indexed_hash:
            raise InvalidBlock(_fork_message(height, str(node_hash), indexed_hash))

    async def _index_range(self, first: int, last: int) -> None:
        """Fetch blocks ``first..last`` ahead, concurrently; write them in order."""
        pending: deque[asyncio.Task[IndexedBlock]] = deque()
        height = first
        try:
            while height <= last or pending:
                while height <= last and len(pending) < PREFETCH_BLOCKS_MAX:
                    pending.append(asyncio.create_task(self._fetch_block(height)))
                    height += 1
                indexed = await pending.popleft()
                assert self._state is not None
                self._state = self.database.write_block(self._state, indexed)
                if self._on_block is not None:
                    self._on_block(indexed)
        finally:
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _fetch_block(self, height: int) -> IndexedBlock:
        block = parse_block(await self._request(self.client.get_block(height)), height)
        pages = await asyncio.gather(
            *(self._fetch_page(block, start) for start in range(0, len(block.tx_ids), TXS_PAGE))
        )
        return IndexedBlock(block, tuple(tx for page in pages for tx in page))

    async def _fetch_page(self, block: BlockInfo, start: int) -> list[TxInfo]:
        """One page of ``GET /blocks/{h}/txs``: the transactions with their receipts."""
        params = {"start": start, "limit": TXS_PAGE}
        page = await self._request(
            self.client.call_api("GET", f"/blocks/{block.height}/txs", params=params)
        )
        records = page.get("txs") if isinstance(page, dict) else None
        expected = min(TXS_PAGE, len(block.tx_ids) - start)
        if not isinstance(records, list) or len(records) != expected:
            raise DecodeError(
                f"block {block.height}: the node's page of transactions from {start} is malformed"
            )
        return [parse_tx_record(r, block, start + n) for n, r in enumerate(records)]

    async def _request(self, call: Awaitable[T]) -> T:
        loop = asyncio.get_running_loop()
        if self._requests is None or self._requests_loop is not loop:
            self._requests = asyncio.Semaphore(FETCH_REQUESTS_MAX)
            self._requests_loop = loop
        async with self._requests:
            return await call

    def _notice(self, text: str) -> None:
        if self._on_notice is not None:
            self._on_notice(text)


def _fork_message(height: int, node_hash: str, indexed_hash: str) -> str:
    return (
        f"the node's block {height} is {node_hash}, but the index holds {indexed_hash} at that "
        "height: the node serves a different chain; point the indexer at a node of the indexed "
        "chain, or run `jinglian indexer rebuild`"
    )
