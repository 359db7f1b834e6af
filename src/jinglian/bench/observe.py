"""Observation: commit events from the block stream, and CPU and memory from ``/proc``.

``BlockWatch`` keeps the first node's block stream (SSE ``/api/v1/stream``,
blocks only) open for the whole run and notes the local time each block
arrives: that arrival is the commit event every latency is measured to.
After a step, ``read_step_blocks`` fetches the step's blocks for their
transaction ids and receipt outcomes.

``ResourceSampler`` reads, every ``interval_s``, each node process's CPU time
and resident memory (``/proc/PID/stat`` and ``/proc/PID/statm``), this
process's CPU time (the generator), and the CPU time of the whole machine
(``/proc/stat``), so that what other processes took is known too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from jinglian.client.identity import Identity
from jinglian.client.reads import ReadAuth
from jinglian.testing.loadgen.measure import (
    get_head,
    machine_busy_s,
    process_cpu_s,
    read_blocks,
    watch_blocks,
)
from jinglian.testing.loadgen.records import BlockSeen

__all__ = [
    "DRAIN_POLL_S",
    "SAMPLE_INTERVAL_S",
    "STREAM_READY_TIMEOUT_S",
    "BlockWatch",
    "ResourceSample",
    "ResourceSampler",
    "process_rss_bytes",
    "read_step_blocks",
    "wait_until_drained",
]

SAMPLE_INTERVAL_S = 1.0
"""Default pause between two resource samples."""
STREAM_READY_TIMEOUT_S = 10.0
"""How long ``BlockWatch.start`` waits for the stream to open."""
DRAIN_POLL_S = 0.2
"""Pause between two pool probes while waiting for the pool to empty."""
STREAM_SETTLE_S = 0.5
"""Wait after the pools empty, for the last block's stream message."""
HTTP_TIMEOUT_S = 30.0


class BlockWatch:
    """The block stream of one node, open while the run lasts: height -> (arrival, txs, header ms)."""

    def __init__(self, url: str, reader: Identity | None = None) -> None:
        self.url = url
        self.auth = None if reader is None else ReadAuth(reader)
        """Signs the stream and block reads as ``reader`` (the chain's query policy)."""
        self.seen: dict[int, tuple[float, int, int]] = {}
        """Height -> (``time.time()`` at arrival, tx count, header time in ms)."""
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(HTTP_TIMEOUT_S), auth=self.auth)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the stream; ``TimeoutError`` if it does not open in ``STREAM_READY_TIMEOUT_S``."""
        ready = asyncio.Event()
        self._task = asyncio.create_task(watch_blocks(self._client, self.url, self.seen, ready))
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait(
            {waiter, self._task},
            timeout=STREAM_READY_TIMEOUT_S,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if waiter not in done:
            waiter.cancel()
            if self._task in done:
                self._task.result()  # raises what stopped the stream
            raise TimeoutError(f"the block stream of {self.url} did not open")

    @property
    def alive(self) -> bool:
        """Whether the stream is still open."""
        return self._task is not None and not self._task.done()

    def committed_txs_since(self, since_s: float) -> int:
        """Transactions in blocks that arrived at or after ``since_s`` (all senders')."""
        return sum(txs for seen, txs, _ in list(self.seen.values()) if seen >= since_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self._task
        await self._client.aclose()


async def wait_until_drained(endpoints: Sequence[str], timeout_s: float) -> bool:
    """Until every node's pool is empty (at most ``timeout_s``); whether they all emptied."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=httpx.Timeout(HTTP_TIMEOUT_S)) as client:
        while True:
            pools = []
            for url in endpoints:
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    pools.append((await get_head(client, url))[1])
            if pools and not any(pools):
                await asyncio.sleep(STREAM_SETTLE_S)
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(DRAIN_POLL_S)


async def read_step_blocks(watch: BlockWatch, start_height: int) -> list[BlockSeen]:
    """The blocks after ``start_height`` up to the head, with their stream arrival times."""
    timeout = httpx.Timeout(HTTP_TIMEOUT_S)
    async with httpx.AsyncClient(timeout=timeout, auth=watch.auth) as client:
        return await read_blocks(client, watch.url, start_height, watch.seen)


async def get_height(url: str) -> int:
    """The node's current height."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(HTTP_TIMEOUT_S)) as client:
        return (await get_head(client, url))[0]


def process_rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes (``/proc/PID/statm``)."""
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def process_private_bytes(pid: int) -> int:
    """Private (anonymous) resident memory of process ``pid`` in bytes: ``RssAnon`` of
    ``/proc/PID/status``.

    The resident size also counts the pages of the memory-mapped store (``RssFile``), which
    grow with the chain on disk and which the kernel reclaims at will; the process's own
    heap is what a leak would grow.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"/proc/{pid}/status has no RssAnon line")


@dataclass(frozen=True, slots=True)
class ResourceSample:
    """One reading of every watched process and of the machine."""

    t_s: float
    """``time.time()`` of the reading."""
    nodes: Mapping[str, tuple[float, int]]
    """Node name -> (CPU seconds so far, resident bytes); a node whose process is gone is absent."""
    generator_cpu_s: float
    """This process's CPU seconds so far (all threads)."""
    machine_busy_s: float
    """CPU seconds all cores have been busy since boot."""
    private: Mapping[str, int] = field(default_factory=dict)
    """Node name -> private resident bytes (``process_private_bytes``), where readable."""


@dataclass
class ResourceSampler:
    """Samples the node processes, the generator and the machine every ``interval_s``."""

    pids: Mapping[str, int]
    """Node name -> process id (empty when the nodes are not on this machine or unknown)."""
    interval_s: float = SAMPLE_INTERVAL_S
    samples: list[ResourceSample] = field(default_factory=list)

    def sample(self) -> ResourceSample:
        """Read everything now and keep the reading."""
        nodes = {}
        private = {}
        for name, pid in self.pids.items():
            with contextlib.suppress(OSError, ValueError, IndexError):
                nodes[name] = (process_cpu_s(pid), process_rss_bytes(pid))
                private[name] = process_private_bytes(pid)
        reading = ResourceSample(time.time(), nodes, time.process_time(), machine_busy_s(), private)
        self.samples.append(reading)
        return reading

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            self.sample()
            await asyncio.sleep(self.interval_s)
