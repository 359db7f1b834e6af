"""Steps 2 and 4, observation: the block stream, the node's and the machine's CPU, ``run_load``.

``run_load`` subscribes to the node's block stream (noting when each block
arrives), has ``submit`` send the transactions while it accounts the CPU time
of the generator, the node and the machine, waits until the pool is empty and
then reads every block of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from jinglian.client.identity import Identity
from jinglian.client.reads import ReadAuth
from jinglian.testing.loadgen.records import BlockSeen, LoadResult
from jinglian.testing.loadgen.stages import _start_py_spy, _stop_py_spy
from jinglian.testing.loadgen.submit import API, _send_all, _skip_sniffio_probe

__all__ = [
    "NO_CONTRACT",
    "get_head",
    "machine_busy_s",
    "process_cpu_s",
    "read_blocks",
    "run_load",
    "watch_blocks",
]

NO_CONTRACT = "loadgen.none"
"""A contract filter no event matches: the stream then carries blocks only."""


async def watch_blocks(
    client: httpx.AsyncClient,
    url: str,
    seen: dict[int, tuple[float, int, int]],
    ready: asyncio.Event,
) -> None:
    """Record (arrival time, tx count, header time) of every block on the stream."""
    params = {"contract": NO_CONTRACT, "blocks": "true"}
    async with client.stream("GET", url + API + "/stream", params=params, timeout=None) as reply:
        reply.raise_for_status()
        ready.set()
        async for line in reply.aiter_lines():
            if not line.startswith("data:"):
                continue
            item = json.loads(line[5:])
            if item.get("kind") == "block":
                data = item["data"]
                seen[int(data["height"])] = (
                    time.time(),
                    int(data["tx_count"]),
                    int(data["time_ms"]),
                )


async def get_head(client: httpx.AsyncClient, url: str) -> tuple[int, int]:
    """The node's height and the transactions waiting in its pool (``/health``)."""
    health = (await client.get(url + API + "/health")).json()
    return int(health["height"]), int(health["mempool_txs"])


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, all threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds all cores have spent not idle since boot (Linux ``/proc/stat``).

    Less the node's and the generator's CPU over a run, this is what other
    processes took from the machine while it was measured.
    """
    with open("/proc/stat") as stat:
        fields = [int(f) for f in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def run_load(
    url: str,
    txs: Sequence[tuple[bytes, bytes]],
    concurrency: int,
    rate: float | None = None,
    drain_timeout_s: float = 120.0,
    node_pid: int | None = None,
    client_kind: str = "httpx",
    py_spy: tuple[Path, float] | None = None,
    batch: int = 0,
    reader: Identity | None = None,
) -> LoadResult:
    """Send ``txs`` (id, base64) to the node at ``url``; wait until they commit; read the blocks.

    With ``node_pid`` (a node on this machine) the node's CPU time during the
    sending is recorded too. ``client_kind`` is a key of ``CLIENTS``. With
    ``py_spy`` (output file, samples per second) and ``node_pid``, ``py-spy
    record --threads --gil -f raw`` samples the node from the first send until
    the pool is empty (``breakdown`` reads the file). ``batch`` > 0 sends that
    many transactions per request to ``/txs/batch``. ``reader`` signs the reads (blocks, the
    stream) as the chain's query policy asks.
    """
    _skip_sniffio_probe()
    auth = None if reader is None else ReadAuth(reader)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0), auth=auth) as client:
        start_height, _ = await get_head(client, url)
        chain = (await client.get(url + API + "/chain")).json()
        interval_ms = int(chain["config"]["params"]["block_interval_ms"])
        seen: dict[int, tuple[float, int, int]] = {}
        ready = asyncio.Event()
        watcher = asyncio.create_task(watch_blocks(client, url, seen, ready))
        await asyncio.wait_for(ready.wait(), 10)
        result = LoadResult(url, client_kind, len(txs), concurrency, rate, time.time(), 0.0)
        result.batch = batch
        result.block_interval_ms = interval_ms
        result.start_height = start_height
        spy = None if py_spy is None or node_pid is None else _start_py_spy(node_pid, *py_spy)
        cpu = time.process_time()
        node_cpu = None if node_pid is None else process_cpu_s(node_pid)
        machine_cpu = machine_busy_s()
        await _send_all(url, txs, concurrency, rate, result, client_kind, batch)
        result.end_s = time.time()
        result.client_cpu_s = time.process_time() - cpu
        result.machine_cpu_s = machine_busy_s() - machine_cpu
        if node_pid is not None and node_cpu is not None:
            result.node_cpu_s = process_cpu_s(node_pid) - node_cpu
        await _wait_until_drained(client, url, drain_timeout_s)
        if node_pid is not None and node_cpu is not None:
            result.node_cpu_drained_s = process_cpu_s(node_pid) - node_cpu
        if spy is not None:
            result.py_spy = _stop_py_spy(spy)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await watcher
        result.blocks += await read_blocks(client, url, start_height, seen)
    return result


async def _wait_until_drained(client: httpx.AsyncClient, url: str, timeout_s: float) -> None:
    """Wait (at most ``timeout_s``) until the node's pool is empty, then for the last block's message."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _, pool = await get_head(client, url)
        if pool == 0:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # the last block's stream message


async def read_blocks(
    client: httpx.AsyncClient,
    url: str,
    start_height: int,
    seen: dict[int, tuple[float, int, int]],
) -> list[BlockSeen]:
    """Every block after ``start_height`` up to the head, with its stream arrival time from ``seen``."""
    blocks = []
    head, _ = await get_head(client, url)
    for height in range(start_height + 1, head + 1):
        block = (await client.get(f"{url}{API}/blocks/{height}")).json()
        arrived, _, _ = seen.get(height, (math.nan, 0, 0))
        blocks.append(
            BlockSeen(
                height=height,
                tx_count=int(block["header"]["tx_count"]),
                time_ms=int(block["header"]["time_ms"]),
                seen_s=arrived,
                tx_ids=tuple(bytes.fromhex(t) for t in block["tx_ids"]),
                failed=tuple(
                    bytes.fromhex(r["tx_id"]) for r in block["receipts"] if r["status"] != "ok"
                ),
            )
        )
    return blocks
