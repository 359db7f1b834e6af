"""The SQL indexer: follows one node's blocks and contract events into a database.

A platform component (DESIGN section 1, ADR 0018): ``Indexer`` reads blocks
from a node through the SDK as a member identity (signed reads), from the
index's last height + 1 up to the head, then follows the node's live
stream, filling gaps by height. Each block's rows (``blocks``, ``txs``,
``events``) and the index's new last height go in one database transaction,
so a crash at any instant resumes exactly; a node of another chain, or one
whose block at an indexed height differs, is refused. ``open_database``
takes ``sqlite:///FILE`` (the default, ``NET/index.sqlite``) or a
``postgresql://`` URL; the tables are in ``jinglian.indexer.schema``.

Apps add their own tables and fill them from their contract's events with
``Indexer.add_handler(contract, handler, tables)``; handlers run inside the
block's transaction. Example::

    from jinglian.client import AsyncClient
    from jinglian.indexer import Indexer, open_database

    async def main() -> None:
        client = AsyncClient.from_network("mynet", identity="org1/client")
        indexer = Indexer(client, open_database("sqlite:///mynet/index.sqlite"))
        await indexer.sync()      # up to the head; indexer.follow() keeps going
"""

from jinglian.indexer.indexer import (
    FETCH_REQUESTS_MAX,
    FOLLOW_POLL_S,
    PREFETCH_BLOCKS_MAX,
    Indexer,
)
from jinglian.indexer.records import BlockInfo, EventInfo, IndexedBlock, TxInfo
from jinglian.indexer.store import Database, Handler, IndexState, open_database

__all__ = [
    "FETCH_REQUESTS_MAX",
    "FOLLOW_POLL_S",
    "PREFETCH_BLOCKS_MAX",
    "BlockInfo",
    "Database",
    "EventInfo",
    "Handler",
    "IndexState",
    "IndexedBlock",
    "Indexer",
    "TxInfo",
    "open_database",
]
