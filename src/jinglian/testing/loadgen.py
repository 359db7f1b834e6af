"""Load generator: committed ``kv.set`` throughput and latency of a running node.

Method (``docs/benchmarks.md`` records the figures)::

    jinglian init NET --orgs 1 --consensus solo --api-port 18601
    jinglian node start NET/nodes/node1 &
    (cd NET && jinglian contract deploy kv /path/to/examples/contracts/kv.py)
    python -m jinglian.testing.loadgen run --net NET --txs 30000 --concurrency 64

1. Before anything is measured, ``--txs`` ``kv.set`` transactions (random
   20-character key, 32-character string value, full certificate unless
   ``--by-id``, which first commits one full-certificate transaction) are
   signed in ``--workers`` processes and base64-encoded.
2. The generator subscribes to the node's block stream (SSE
   ``/api/v1/stream``, blocks only) and notes the local time each block
   arrives.
3. ``--concurrency`` connections POST them, one per request to
   ``/api/v1/txs`` or, with ``--batch N``, N per request to
   ``/api/v1/txs/batch``, each request as soon as the previous answer arrives
   or, with ``--rate``, at a fixed offered rate. Each connection is its own
   ``httpx.AsyncClient`` (``--client httpx``, the default) or a minimal
   keep-alive HTTP/1.1 writer (``--client raw``, a tenth of the client CPU, so
   the generator takes less of a 2-core machine from the node). A ``503 busy``
   (pool full; per transaction in a batch) is retried after ``BUSY_RETRY_S``.
   The send time of every transaction is kept; ``--node-pid`` also records the
   node's CPU time.
4. After the last transaction has committed, every block of the run is read
   (``GET /api/v1/blocks/{height}``) for its transaction ids, count and header
   time.
5. Committed tx/s is counted over a window that starts ``--warmup-s`` after the
   first send and ends at the last send: the transactions of blocks whose
   header time falls in the window, over the window's span measured between
   block header times. Latency is, for every transaction committed in the
   window, from the start of its POST to the arrival of its block on the
   stream (``latency_ms_*``: when a subscriber learns of the commit), and to
   the commit itself, estimated as the next block's header time less
   ``block_interval_ms`` (solo waits that long after a commit before building
   the next block) when that is earlier (``commit_latency_ms_*``).

``profile-node`` runs a node like ``jinglian node start`` but under
``cProfile`` in every thread (the API loop and the consensus thread) and writes
the merged ``pstats`` file on SIGINT/SIGTERM; ``timed-node`` runs it with
wall and thread-CPU timers on the functions of a transaction's path
(``TIMED``; ``timers`` prints the report per transaction). ``breakdown`` turns a
``py-spy record --threads --gil -f raw`` file of a loaded node into shares
(and µs per transaction) of the stages in ``STAGES``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import itertools
import json
import math
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from jinglian.client.identity import Identity
from jinglian.client.network import load_network

__all__ = [
    "BUSY_RETRY_S",
    "CLIENTS",
    "STAGES",
    "TIMED",
    "BlockSeen",
    "LoadResult",
    "breakdown",
    "classify",
    "kv_set_args",
    "machine_busy_s",
    "main",
    "presign",
    "process_cpu_s",
    "profile_node",
    "register_certificate",
    "run_load",
    "summarize",
    "timed_node",
    "timers_table",
]

BUSY_RETRY_S = 0.02
"""Pause before resending a transaction the node refused with ``503 busy``."""
EXPIRY_S = 590
"""Validity of each pre-signed transaction (the chain allows at most 600 s)."""
API = "/api/v1"
NO_CONTRACT = "loadgen.none"
"""A contract filter no event matches: the stream then carries blocks only."""


def _skip_sniffio_probe() -> None:
    """Make httpcore's per-request ``import sniffio`` fail fast when sniffio is absent.

    httpcore tries ``import sniffio`` on every request; a failed import is not
    cached and scans ``sys.path`` each time (about 0.15 ms here). A ``None``
    entry in ``sys.modules`` makes the import fail at once, which httpcore
    already handles by assuming asyncio.
    """
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def kv_set_args(rng: random.Random) -> dict[str, Any]:
    """Arguments of a typical ``kv.set``: random 20-character key, 32-character string value."""
    return {"key": f"k-{rng.getrandbits(72):018x}", "value": f"{rng.getrandbits(128):032x}"}


# -- 1. pre-signing ----------------------------------------------------------------------------


def _sign_chunk(job: tuple[str, str, str, int, int, bool]) -> list[tuple[bytes, bytes]]:
    """Worker: sign ``count`` transactions; (tx id, base64 of the wire bytes) each."""
    net_dir, identity_name, chain_id, count, seed, by_id = job
    identity = Identity.from_network(net_dir, identity_name)
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        tx = identity.sign_tx(
            chain_id,
            "kv",
            "set",
            kv_set_args(rng),
            expiry_s=EXPIRY_S,
            nonce=rng.randbytes(16),
            include_cert=not by_id,
        )
        out.append((tx.id, base64.b64encode(tx.encoded)))
    return out


def presign(
    net_dir: Path,
    identity_name: str,
    chain_id: str,
    count: int,
    workers: int,
    by_id: bool = False,
    seed: int | None = None,
) -> list[tuple[bytes, bytes]]:
    """``count`` signed ``kv.set`` transactions as (tx id, base64 wire bytes), signed in ``workers`` processes."""
    seed = random.SystemRandom().getrandbits(64) if seed is None else seed
    chunks = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
    jobs = [
        (str(net_dir), identity_name, chain_id, n, seed + i, by_id)
        for i, n in enumerate(chunks)
        if n
    ]
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        results = pool.map(_sign_chunk, jobs)
    return [item for chunk in results for item in chunk]


# -- 2.-4. the run -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockSeen:
    """A block of the run: when it was built and when its commit reached the generator."""

    height: int
    tx_count: int
    time_ms: int
    """Header time (the proposer's clock when it started building the block)."""
    seen_s: float
    """``time.time()`` when the stream delivered the block."""
    tx_ids: tuple[bytes, ...] = ()


@dataclass
class LoadResult:
    """What one run produced (raw, before ``summarize``)."""

    url: str
    client: str
    txs: int
    concurrency: int
    rate: float | None
    start_s: float
    """``time.time()`` of the first send."""
    end_s: float
    """``time.time()`` when the last send was answered."""
    sent_s: dict[bytes, float] = field(default_factory=dict)
    """Tx id -> ``time.time()`` at the start of its (last) POST."""
    rejected: dict[str, int] = field(default_factory=dict)
    busy_retries: int = 0
    batch: int = 0
    """Transactions per request (0: one per request to ``/txs``)."""
    block_interval_ms: int = 0
    """The chain's ``block_interval_ms`` (solo waits this long before building each block)."""
    blocks: list[BlockSeen] = field(default_factory=list)
    client_cpu_s: float = 0.0
    """CPU seconds the generator process used while sending."""
    node_cpu_s: float | None = None
    """CPU seconds the node process used while sending (with ``node_pid``)."""
    node_cpu_drained_s: float | None = None
    """CPU seconds the node used from the first send until the pool was empty again."""
    py_spy: dict[str, int] | None = None
    """``samples`` and ``errors`` py-spy reported, when it sampled the node."""
    machine_cpu_s: float = 0.0
    """CPU seconds all processes on the machine used while sending (``/proc/stat``)."""
    start_height: int = 0


async def _watch_blocks(
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


class _RawConnection:
    """A minimal HTTP/1.1 keep-alive client for one route (``--client raw``).

    It writes a fixed request head and reads the status line, the headers and a
    ``Content-Length`` body: about a tenth of httpx's CPU per request, so the
    generator takes less of the machine from the node it measures.
    """

    def __init__(self, url: str, path: str) -> None:
        parsed = httpx.URL(url)
        self._host, self._port = parsed.host, parsed.port or 80
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._reader, self._writer
        writer.write(self._head + b"%d\r\n\r\n" % len(body) + body)
        status = int((await reader.readline()).split()[1])
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()


class _HttpxConnection:
    """One ``httpx.AsyncClient`` with one connection (``--client httpx``, the default).

    One client per connection: a client shared by many connections scans its
    whole pool on every request, which costs more CPU than the node spends.
    """

    def __init__(self, url: str, path: str) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._client = httpx.AsyncClient(
            base_url=url, limits=limits, timeout=httpx.Timeout(60.0), verify=False
        )
        self._path = path
        self._headers = {"content-type": "application/json"}

    async def post(self, body: bytes) -> tuple[int, bytes]:
        reply = await self._client.post(self._path, content=body, headers=self._headers)
        return reply.status_code, reply.content

    async def close(self) -> None:
        await self._client.aclose()


CLIENTS: dict[str, type[_RawConnection] | type[_HttpxConnection]] = {
    "httpx": _HttpxConnection,
    "raw": _RawConnection,
}
"""HTTP clients the generator can send with."""


async def _send_all(
    url: str,
    txs: Sequence[tuple[bytes, bytes]],
    concurrency: int,
    rate: float | None,
    result: LoadResult,
    client_kind: str,
    batch: int = 0,
) -> None:
    """``concurrency`` senders, each on its own connection, taking the next transactions in turn.

    ``batch`` 0 posts each transaction to ``/txs``; otherwise up to ``batch``
    per request go to ``/txs/batch`` (those refused as ``busy`` are resent).
    """
    next_index = 0
    start = time.perf_counter()
    take = max(1, batch)

    async def sender() -> None:
        nonlocal next_index
        connection = CLIENTS[client_kind](url, API + ("/txs/batch" if batch else "/txs"))
        try:
            while next_index < len(txs):
                index = next_index
                next_index += take
                if rate is not None:
                    delay = start + index / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                pending = list(txs[index : index + take])
                while pending:
                    pending = await _post(connection, pending, batch > 0, result)
                    if pending:
                        await asyncio.sleep(BUSY_RETRY_S)
        finally:
            await connection.close()

    await asyncio.gather(*(sender() for _ in range(concurrency)))


async def _post(
    connection: _RawConnection | _HttpxConnection,
    txs: list[tuple[bytes, bytes]],
    batch: bool,
    result: LoadResult,
) -> list[tuple[bytes, bytes]]:
    """Send ``txs`` in one request; return those to resend (refused as busy)."""
    now = time.time()
    for tx_id, _ in txs:
        result.sent_s[tx_id] = now
    if batch:
        body = b'{"txs":["' + b'","'.join(b64 for _, b64 in txs) + b'"]}'
    else:
        body = b'{"tx":"' + txs[0][1] + b'"}'
    status, content = await connection.post(body)
    if status == 503:
        result.busy_retries += len(txs)
        return txs
    if batch and status == 200:
        retry = []
        for tx, outcome in zip(txs, json.loads(content)["results"], strict=True):
            if outcome.get("tx_id") is not None:
                continue
            code = outcome["error"]["code"]
            if code == "busy":
                retry.append(tx)
                result.busy_retries += 1
            else:
                result.rejected[code] = result.rejected.get(code, 0) + 1
                result.sent_s.pop(tx[0], None)
        return retry
    if status != 202 or batch:
        code = _error_code(status, content)
        result.rejected[code] = result.rejected.get(code, 0) + len(txs)
        for tx_id, _ in txs:
            result.sent_s.pop(tx_id, None)
    return []


def _error_code(status: int, content: bytes) -> str:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return f"{status} {json.loads(content)['error']['code']}"
    return str(status)


async def _head_height(client: httpx.AsyncClient, url: str) -> tuple[int, int]:
    health = (await client.get(url + API + "/health")).json()
    return int(health["height"]), int(health["mempool_txs"])


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, all threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_py_spy(pid: int, out: Path, rate_hz: float) -> subprocess.Popen[str]:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [exe, "record", "--pid", str(pid), "--threads", "--gil", "--format", "raw"]
    command += ["--rate", str(int(rate_hz)), "--output", str(out)]
    spy = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.0)  # let it attach before the first send
    return spy


def _stop_py_spy(spy: subprocess.Popen[str]) -> dict[str, int]:
    spy.send_signal(signal.SIGINT)
    output, _ = spy.communicate(timeout=60)
    found = re.search(r"Samples: (\d+) Errors: (\d+)", output)
    if found is None:
        raise RuntimeError(f"py-spy did not report its samples: {output[-500:]}")
    return {"samples": int(found.group(1)), "errors": int(found.group(2))}


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
) -> LoadResult:
    """Send ``txs`` (id, base64) to the node at ``url``; wait until they commit; read the blocks.

    With ``node_pid`` (a node on this machine) the node's CPU time during the
    sending is recorded too. ``client_kind`` is a key of ``CLIENTS``. With
    ``py_spy`` (output file, samples per second) and ``node_pid``, ``py-spy
    record --threads --gil -f raw`` samples the node from the first send until
    the pool is empty (``breakdown`` reads the file). ``batch`` > 0 sends that
    many transactions per request to ``/txs/batch``.
    """
    _skip_sniffio_probe()
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client:
        start_height, _ = await _head_height(client, url)
        chain = (await client.get(url + API + "/chain")).json()
        interval_ms = int(chain["config"]["params"]["block_interval_ms"])
        seen: dict[int, tuple[float, int, int]] = {}
        ready = asyncio.Event()
        watcher = asyncio.create_task(_watch_blocks(client, url, seen, ready))
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
        deadline = time.monotonic() + drain_timeout_s
        while time.monotonic() < deadline:
            _, pool = await _head_height(client, url)
            if pool == 0:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # the last block's stream message
        if node_pid is not None and node_cpu is not None:
            result.node_cpu_drained_s = process_cpu_s(node_pid) - node_cpu
        if spy is not None:
            result.py_spy = _stop_py_spy(spy)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await watcher
        head, _ = await _head_height(client, url)
        for height in range(start_height + 1, head + 1):
            block = (await client.get(f"{url}{API}/blocks/{height}")).json()
            arrived, _, _ = seen.get(height, (math.nan, 0, 0))
            result.blocks.append(
                BlockSeen(
                    height=height,
                    tx_count=int(block["header"]["tx_count"]),
                    time_ms=int(block["header"]["time_ms"]),
                    seen_s=arrived,
                    tx_ids=tuple(bytes.fromhex(t) for t in block["tx_ids"]),
                )
            )
    return result


# -- 5. figures --------------------------------------------------------------------------------


def _percentile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def summarize(result: LoadResult, warmup_s: float) -> dict[str, Any]:
    """Committed tx/s over the steady window, latency percentiles, and the run's facts."""
    window_start_ms = (result.start_s + warmup_s) * 1000
    window_end_ms = result.end_s * 1000
    blocks = sorted(result.blocks, key=lambda b: b.height)
    inside = [b for b in blocks if window_start_ms <= b.time_ms <= window_end_ms]
    committed = sum(b.tx_count for b in blocks)
    summary: dict[str, Any] = {
        "url": result.url,
        "client": result.client,
        "txs_offered": result.txs,
        "txs_committed": committed,
        "concurrency": result.concurrency,
        "batch": result.batch,
        "offered_rate_tps": result.rate,
        "rejected": result.rejected,
        "busy_retries": result.busy_retries,
        "blocks": len(blocks),
        "send_duration_s": round(result.end_s - result.start_s, 2),
        "client_cpu_s": round(result.client_cpu_s, 2),
        "node_cpu_s": None if result.node_cpu_s is None else round(result.node_cpu_s, 2),
        "machine_cpu_s": round(result.machine_cpu_s, 2),
        "cores_busy_mean": round(result.machine_cpu_s / (result.end_s - result.start_s), 2),
        "warmup_s": warmup_s,
    }
    if result.node_cpu_s is not None:
        others = result.machine_cpu_s - result.node_cpu_s - result.client_cpu_s
        summary["other_processes_cpu_s"] = round(others, 2)
    if result.node_cpu_drained_s is not None:
        summary["node_cpu_drained_s"] = round(result.node_cpu_drained_s, 2)
        summary["node_cpu_us_per_committed_tx"] = round(
            result.node_cpu_drained_s / max(1, committed) * 1e6
        )
    if len(inside) >= 2:
        # Blocks after the first in the window, over the time from the first's header to the last's.
        span_s = (inside[-1].time_ms - inside[0].time_ms) / 1000
        window_txs = sum(b.tx_count for b in inside[1:])
        summary["window_s"] = round(span_s, 2)
        summary["window_blocks"] = len(inside) - 1
        summary["window_txs"] = window_txs
        summary["committed_tps"] = round(window_txs / span_s, 1) if span_s > 0 else None
        sizes = [b.tx_count for b in inside]
        summary["block_txs_mean"] = round(statistics.fmean(sizes), 1)
        gaps = [(b.time_ms - a.time_ms) for a, b in itertools.pairwise(inside)]
        summary["block_interval_ms_mean"] = round(statistics.fmean(gaps), 1)
    # Notified: the block's message arrived on the stream. Committed (estimated): under load
    # solo builds the next block block_interval_ms after a commit, so a block committed no
    # later than the next block's header time less the interval (or its stream arrival).
    interval_s = result.block_interval_ms / 1000
    following = {a.height: b for a, b in itertools.pairwise(blocks)}
    notified: list[float] = []
    committed_at: list[float] = []
    for b in inside:
        if math.isnan(b.seen_s):
            continue
        after = following.get(b.height)
        done = b.seen_s
        if after is not None and after.height == b.height + 1:
            done = max(b.time_ms / 1000, min(done, after.time_ms / 1000 - interval_s))
        for tx_id in b.tx_ids:
            sent = result.sent_s.get(tx_id)
            if sent is not None:
                notified.append((b.seen_s - sent) * 1000)
                committed_at.append((done - sent) * 1000)
    summary["latency_samples"] = len(notified)
    for label, values in (("latency_ms", notified), ("commit_latency_ms", committed_at)):
        values.sort()
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
            summary[f"{label}_{name}"] = round(_percentile(values, q), 1)
    return summary


# -- profiling ----------------------------------------------------------------------------------


def profile_node(node_dir: Path, out: Path) -> None:
    """Run the node in ``node_dir`` under cProfile in every thread; write merged stats to ``out``."""
    import cProfile
    import pstats

    from jinglian.node.run import run_node

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        with lock:
            profiles.append(profile)
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main_profile = cProfile.Profile()
    main_profile.enable()
    try:
        run_node(node_dir)
    finally:
        main_profile.disable()
        threading.Thread.run = original_run  # type: ignore[method-assign]
        stats = pstats.Stats(main_profile)
        with lock:
            for profile in profiles:
                with contextlib.suppress(TypeError):  # a thread that never ran profiled code
                    stats.add(profile)
        stats.dump_stats(str(out))


# -- per-stage timers -----------------------------------------------------------------------------

TIMED: tuple[tuple[str, str], ...] = (
    # (label, "module:attribute"): functions ``timed_node`` wraps with wall and thread-CPU timers
    ("api: LocalServices.submit_tx", "jinglian.node.local:LocalServices.submit_tx"),
    ("api:   decode_tx", "jinglian.node.local:decode_tx"),
    ("api:   Mempool.add", "jinglian.mempool.pool:Mempool.add"),
    ("api:     check_tx (admission)", "jinglian.node.node:check_tx"),
    ("both: TxAuthenticator.authenticate", "jinglian.ledger.auth:TxAuthenticator.authenticate"),
    ("both: P256PublicKey.verify", "jinglian.crypto._p256:P256PublicKey.verify"),
    ("both: Sm2PublicKey.verify", "jinglian.crypto._sm2:Sm2PublicKey.verify"),
    ("both: Ledger.is_committed", "jinglian.ledger.chain:Ledger.is_committed"),
    ("consensus: Solo.step", "jinglian.consensus.solo:Solo.step"),
    ("consensus:   Node.propose_block", "jinglian.node.node:Node.propose_block"),
    ("consensus:     Mempool.reap", "jinglian.mempool.pool:Mempool.reap"),
    ("consensus:     build_block", "jinglian.node.node:build_block"),
    ("consensus:       check_tx (in block)", "jinglian.ledger.apply:check_tx"),
    (
        "consensus:       process_cert_registrations",
        "jinglian.ledger.apply:process_cert_registrations",
    ),
    (
        "consensus:       ContractExecutor.execute",
        "jinglian.node.executor:ContractExecutor.execute",
    ),
    (
        "consensus:       Ledger.compute_state_root",
        "jinglian.ledger.chain:Ledger.compute_state_root",
    ),
    ("consensus:       make_header (Merkle roots)", "jinglian.ledger.apply:make_header"),
    ("consensus:   Node.commit_block", "jinglian.node.node:Node.commit_block"),
    ("consensus:     Ledger.commit_block", "jinglian.ledger.chain:Ledger.commit_block"),
    ("consensus:       LmdbKV.write", "jinglian.storage.lmdb_kv:LmdbKV.write"),
    ("consensus:     _stream_items", "jinglian.node.node:_stream_items"),
    ("consensus:     EventHub.publish", "jinglian.node.events:EventHub.publish"),
)
"""What ``timed_node`` times; indentation shows which calls run inside which."""


@dataclass
class _Tally:
    calls: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0


_SPANS: dict[int, list[float]] = {}
"""Thread id -> [thread CPU at its first timed call, at its latest timed call's end]."""


def _install_timers(tallies: dict[str, _Tally]) -> list[tuple[Any, str, Any]]:
    """Wrap every ``TIMED`` function that exists; returns what to restore."""
    restore: list[tuple[Any, str, Any]] = []
    for label, target in TIMED:
        module_name, _, path = target.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            original = getattr(owner, name)
        except (ImportError, AttributeError):
            print(f"timed-node: {target} not found, not timed", file=sys.stderr)
            continue
        tally = tallies.setdefault(label, _Tally())
        setattr(owner, name, _timed(original, tally))
        restore.append((owner, name, original))
    return restore


def _timed(fn: Any, tally: _Tally) -> Any:
    perf, cpu, ident, spans = time.perf_counter, time.thread_time, threading.get_ident, _SPANS

    def timed(*args: Any, **kwargs: Any) -> Any:
        wall0, cpu0 = perf(), cpu()
        try:
            return fn(*args, **kwargs)
        finally:
            cpu1 = cpu()
            tally.wall_s += perf() - wall0
            tally.cpu_s += cpu1 - cpu0
            tally.calls += 1
            span = spans.setdefault(ident(), [cpu0, cpu1])
            span[1] = cpu1

    return timed


def timed_node(node_dir: Path, out: Path) -> None:
    """Run the node in ``node_dir`` with wall and thread-CPU timers on the ``TIMED`` functions.

    On SIGINT/SIGTERM it writes, per function, calls and total wall and CPU
    seconds, and per thread the CPU it used from its first timed call to the
    end of its last (the API loop and the consensus thread under load), as
    JSON to ``out``. Each timer costs about a microsecond per call.
    """
    from jinglian.node.run import run_node

    tallies: dict[str, _Tally] = {}
    names: dict[int, str] = {}
    restore = _install_timers(tallies)
    original_run = threading.Thread.run

    def named_run(self: threading.Thread) -> None:
        names[threading.get_ident()] = self.name
        original_run(self)

    names[threading.get_ident()] = "MainThread"
    threading.Thread.run = named_run  # type: ignore[method-assign]
    try:
        run_node(node_dir)
    finally:
        threading.Thread.run = original_run  # type: ignore[method-assign]
        for owner, name, original in restore:
            setattr(owner, name, original)
        report = {
            "thread_cpu_s": {
                names.get(thread, str(thread)): last - first
                for thread, (first, last) in _SPANS.items()
            },
            "timers": {label: asdict(t) for label, t in tallies.items() if t.calls},
        }
        out.write_text(json.dumps(report, indent=1))


def timers_table(report_file: Path, txs: int) -> str:
    """``timed_node``'s report as a table: per call and per transaction (``txs`` committed)."""
    report = json.loads(report_file.read_text())
    lines = [
        f"{'function':58} {'calls':>8} {'wall µs/call':>13} {'CPU µs/call':>12} {'CPU µs/tx':>10}"
    ]
    for label, t in report["timers"].items():
        calls = max(1, t["calls"])
        lines.append(
            f"{label:58} {t['calls']:8d} {t['wall_s'] / calls * 1e6:13.1f} "
            f"{t['cpu_s'] / calls * 1e6:12.1f} {t['cpu_s'] / txs * 1e6:10.1f}"
        )
    for thread, cpu_s in report["thread_cpu_s"].items():
        lines.append(
            f"thread {thread} (first to last timed call): {cpu_s:.2f} CPU s"
            f" = {cpu_s / txs * 1e6:.0f} µs/tx"
        )
    return "\n".join(lines)


# -- where the node's time goes ------------------------------------------------------------------

STAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (thread, stage, patterns): a stack belongs to the first stage of its thread with a
    # pattern in it; "a&b" needs both a and b among the stack's frames.
    ("consensus", "block: signature verify (cache miss)", ("build_block&.verify (jinglian/",)),
    ("consensus", "block: check_tx (cache hit, validity, duplicates)", ("build_block&check_tx (",)),
    ("consensus", "block: certificate registration", ("process_cert_registrations",)),
    ("consensus", "block: contract execution", ("ContractExecutor.execute",)),
    ("consensus", "block: state root (StateTree.compute_update)", ("compute_state_root",)),
    ("consensus", "block: Merkle roots + receipt encoding (make_header)", ("make_header",)),
    ("consensus", "block: rest of build_block", ("build_block",)),
    ("consensus", "commit: LMDB write + fsync", ("LmdbKV.write",)),
    ("consensus", "commit: encode block/receipts, indexes, batch", ("Ledger.commit_block",)),
    ("consensus", "notify: stream items, waiters, metrics, pool removal", ("Node.commit_block",)),
    ("consensus", "consensus: reap, sign, loop", ("",)),
    ("MainThread", "admission: signature verify", ("_admit&.verify (jinglian/",)),
    ("MainThread", "admission: rest of check_tx", ("_admit",)),
    ("MainThread", "admission: mempool bookkeeping", ("Mempool.add",)),
    (
        "MainThread",
        "submit route: decode_tx",
        ("submit (jinglian/api/routes.py&decode_tx", "submit_batch (jinglian/api/&decode_tx"),
    ),
    (
        "MainThread",
        "submit route: base64, rest",
        ("submit (jinglian/api/routes.py", "submit_batch (jinglian/api/"),
    ),
    ("MainThread", "stream (SSE) delivery", ("_sse_lines", "stream_items (", "_pump (")),
    ("MainThread", "other API routes", ("jinglian/api/routes.py", "jinglian/api/render.py")),
    (
        "MainThread",
        "HTTP: uvicorn, h11, Starlette, FastAPI, pydantic, JSON",
        ("uvicorn/", "h11/", "starlette/", "fastapi/", "pydantic", "json/"),
    ),
    ("MainThread", "event loop: rest", ("",)),
)
"""How ``breakdown`` assigns a sampled stack to a stage of a transaction's path."""


def classify(thread: str, frames: str) -> str:
    """The stage of one sampled stack (``frames``: py-spy's ``;``-joined frames)."""
    for owner, stage, patterns in STAGES:
        if owner == thread and any(
            all(part in frames for part in pattern.split("&")) for pattern in patterns
        ):
            return stage
    return f"{thread}: other"


def breakdown(
    collapsed: Path,
    txs: int | None = None,
    rate_hz: float | None = None,
    errors: int = 0,
    top: int = 25,
) -> str:
    """Stage shares and top functions from a ``py-spy record -f raw --threads --gil`` file.

    With ``--gil`` py-spy samples only the thread holding the GIL, so the
    samples partition the time the node runs Python (work that releases the
    GIL -- OpenSSL signature checks, LMDB commits and fsync, socket calls --
    is not in them). Given the sampling rate, the failed samples py-spy
    reported (``errors``, counted as GIL-held time in the same proportions)
    and the transactions committed during the recording, each stage is also
    given in GIL-held µs per transaction.
    """
    stages: dict[str, int] = {}
    self_time: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        thread_part, _, frames = stack.partition(";")
        thread = thread_part.rpartition(": ")[2]
        stage = classify(thread, frames)
        stages[stage] = stages.get(stage, 0) + count
        leaf = frames.rpartition(";")[2]
        self_time[leaf] = self_time.get(leaf, 0) + count
        total += count
    per_tx = None
    head = f"{total} samples"
    if txs and rate_hz:
        held_s = (total + errors) / rate_hz
        per_tx = held_s / txs * 1e6
        head += f"; GIL held {held_s:.1f} s = {per_tx:.0f} µs per tx over {txs} txs"
    lines = [head]
    order = [stage for _, stage, _ in STAGES] + sorted(set(stages) - {s for _, s, _ in STAGES})
    for stage in order:
        if stage not in stages:
            continue
        share = stages[stage] / total
        cost = "" if per_tx is None else f"  {share * per_tx:7.1f} µs/tx"
        lines.append(f"{share * 100:5.1f}%{cost}  {stage}")
    lines.append(f"top {top} functions by own samples:")
    for leaf, count in sorted(self_time.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"{count / total * 100:5.1f}%  {leaf}")
    return "\n".join(lines)


# -- command line -------------------------------------------------------------------------------


def register_certificate(url: str, net_dir: Path, identity_name: str, chain_id: str) -> None:
    """Commit one full-certificate ``kv.set`` so that later transactions may cite the id."""
    identity = Identity.from_network(net_dir, identity_name)
    tx = identity.sign_tx(chain_id, "kv", "set", kv_set_args(random.Random()))
    body = {"tx": base64.b64encode(tx.encoded).decode()}
    reply = httpx.post(f"{url}{API}/txs", params={"wait": "true"}, json=body, timeout=60)
    reply.raise_for_status()


def _cmd_run(args: argparse.Namespace) -> int:
    net_dir = Path(args.net)
    network = load_network(net_dir)
    url = args.url or network.node(None).api_url
    if args.by_id:
        register_certificate(url, net_dir, args.identity, network.chain_id)
    started = time.perf_counter()
    txs = presign(
        net_dir, args.identity, network.chain_id, args.txs, args.workers, args.by_id, args.seed
    )
    sign_s = time.perf_counter() - started
    print(
        f"signed {len(txs)} txs in {sign_s:.1f} s with {args.workers} processes; "
        f"sending to {url} over {args.concurrency} connections"
        + (f" at {args.rate:g} tx/s" if args.rate else ""),
        file=sys.stderr,
    )
    result = asyncio.run(
        run_load(
            url,
            txs,
            args.concurrency,
            args.rate,
            node_pid=args.node_pid,
            client_kind=args.client,
            py_spy=None if args.py_spy is None else (Path(args.py_spy), args.py_spy_rate),
            batch=args.batch,
        )
    )
    summary = summarize(result, args.warmup_s)
    summary["presign_s"] = round(sign_s, 1)
    summary["workers"] = args.workers
    summary["by_id"] = args.by_id
    summary["tx_base64_bytes_mean"] = round(statistics.fmean(len(b) for _, b in txs), 1)
    summary["loadgen_maxrss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    print(json.dumps(summary, indent=2))
    if result.py_spy is not None:
        summary["py_spy"] = result.py_spy
        print(
            breakdown(
                Path(args.py_spy),
                summary["txs_committed"],
                args.py_spy_rate,
                result.py_spy["errors"],
            )
        )
    if args.out:
        raw = asdict(result)
        raw["sent_s"] = {k.hex(): v for k, v in result.sent_s.items()}
        raw["blocks"] = [
            {**asdict(b), "tx_ids": [t.hex() for t in b.tx_ids]} for b in result.blocks
        ]
        Path(args.out).write_text(json.dumps({"summary": summary, "raw": raw}))
    return 0


def _cmd_breakdown(args: argparse.Namespace) -> int:
    print(breakdown(Path(args.collapsed), args.txs, args.rate, args.errors, args.top))
    return 0


def _cmd_timed(args: argparse.Namespace) -> int:
    timed_node(Path(args.node_dir), Path(args.out))
    return 0


def _cmd_timers(args: argparse.Namespace) -> int:
    print(timers_table(Path(args.report), args.txs))
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    profile_node(Path(args.node_dir), Path(args.out))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jinglian.testing.loadgen {run,profile-node} ...``."""
    parser = argparse.ArgumentParser(prog="python -m jinglian.testing.loadgen")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="pre-sign kv.set transactions, send them, measure")
    run.add_argument("--net", required=True, help="network directory (jinglian init)")
    run.add_argument("--url", help="node API base URL (default: the network's first node)")
    run.add_argument("--identity", default="org1/client", help="signing identity")
    run.add_argument("--txs", type=int, default=20_000, help="transactions to send")
    run.add_argument("--concurrency", type=int, default=64, help="concurrent connections")
    run.add_argument(
        "--client", choices=sorted(CLIENTS), default="httpx", help="HTTP client to send with"
    )
    run.add_argument(
        "--batch", type=int, default=0, help="transactions per request to /txs/batch (0: /txs)"
    )
    run.add_argument("--rate", type=float, help="offered tx/s (default: as fast as answered)")
    run.add_argument("--warmup-s", type=float, default=5.0, help="seconds left out at the start")
    run.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="signing processes")
    run.add_argument("--by-id", action="store_true", help="cite the certificate by id")
    run.add_argument("--seed", type=int, help="random seed for keys, values and nonces")
    run.add_argument("--node-pid", type=int, help="node process id, to record its CPU time")
    run.add_argument("--py-spy", help="sample the node with py-spy into this file (--node-pid)")
    run.add_argument("--py-spy-rate", type=float, default=100.0, help="py-spy samples per second")
    run.add_argument("--out", help="write summary and raw timings as JSON here")
    run.set_defaults(handler=_cmd_run)
    prof = commands.add_parser("profile-node", help="run a node under cProfile (all threads)")
    prof.add_argument("node_dir", help="the node's directory (with node.toml)")
    prof.add_argument("--out", required=True, help="pstats output file")
    prof.set_defaults(handler=_cmd_profile)
    timed = commands.add_parser("timed-node", help="run a node with per-stage CPU timers")
    timed.add_argument("node_dir", help="the node's directory (with node.toml)")
    timed.add_argument("--out", required=True, help="JSON report written on exit")
    timed.set_defaults(handler=_cmd_timed)
    table = commands.add_parser("timers", help="print a timed-node report per transaction")
    table.add_argument("report", help="timed-node --out file")
    table.add_argument("--txs", type=int, required=True, help="transactions the node took")
    table.set_defaults(handler=_cmd_timers)
    stages = commands.add_parser(
        "breakdown", help="stage shares from py-spy raw output (record --threads --gil -f raw)"
    )
    stages.add_argument("collapsed", help="py-spy record -f raw output")
    stages.add_argument("--txs", type=int, help="transactions committed over the recording")
    stages.add_argument("--rate", type=float, help="py-spy sampling rate (-r), samples/s")
    stages.add_argument("--errors", type=int, default=0, help="failed samples py-spy reported")
    stages.add_argument("--top", type=int, default=25, help="functions to list")
    stages.set_defaults(handler=_cmd_breakdown)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
