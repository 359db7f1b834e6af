"""``python -m tests.indexer.follow_main NET URL [--once]``: an indexer process with the kv handler.

The SIGKILL test runs this as a child process, kills it mid-run and runs it
again; the handler's table must come out as in a fresh index, like the
index's own tables. Following (without ``--once``), it pauses ``PAUSE_S``
after each block it writes, so the test's kill lands before the head however
fast the machine indexes.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from jinglian.client import AsyncClient
from jinglian.indexer import Indexer, open_database
from tests.indexer.handlers import kv_keys_meta, record_kv_key

PAUSE_S = 0.05


async def main(net: Path, url: str, once: bool) -> None:
    database = open_database(url)
    client = AsyncClient.from_network(net, "org1/admin")
    indexer = Indexer(client, database, on_block=None if once else lambda _: time.sleep(PAUSE_S))
    indexer.add_handler("kv", record_kv_key, kv_keys_meta)
    if once:
        await indexer.sync()
    else:
        await indexer.follow()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], "--once" in sys.argv[3:]))
