"""Restart and block sync: how fast a node serves again, and how fast a lagging one catches up.

Both measurements run real node processes (``jinglian.testing.process.NodeProcess``,
``python -m jinglian.cli node start DIR``) on real LMDB stores in a work
directory, on the ports the caller gives (``api_port`` and ``p2p_port`` are
the first of consecutive ports, one per node).

* ``run_restart``: a solo network is started and filled with ``txs``
  committed ``kv.set`` transactions (``fill_chain``: signed in worker
  processes a segment at a time, sent in batches through the node's API,
  committed by the node's own block production: the real on-disk format).
  The build time is reported apart. Then the node is stopped with SIGTERM,
  and later with SIGKILL, and each time restarted: the figures are the
  seconds from the process spawn to ``/health`` answering, to a signed read
  of the latest block succeeding, and to a new transaction committing. The
  same restart is timed once before the fill, so a start-up time that grows
  with the chain shows as the difference. The store's size on disk is
  reported too.
* ``run_sync``: a four-validator ``tbft`` network; the last validator is
  stopped while the other three (a quorum) commit ``txs`` transactions, then
  started again. Its height is polled every ``HEIGHT_POLL_S``; the catch-up
  rate is the transactions of the blocks it synced after its first synced
  block, divided by the time from that block to the head (the head's other
  nodes are idle meanwhile). With ``profile``, ``py-spy`` samples the
  catching-up node for the whole catch-up and the functions where it spent
  its time are listed.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import multiprocessing
import multiprocessing.pool
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from jinglian.bench.network import Target, prepare_chain
from jinglian.bench.run import sign_timed
from jinglian.bench.workloads import get_workload
from jinglian.client import load_network
from jinglian.client.identity import Identity
from jinglian.client.reads import ReadAuth
from jinglian.testing.loadgen.signing import SignJob, kv_set_args, sign_jobs
from jinglian.testing.process import NodeProcess, NodeProcessError
from jinglian.types.errors import InvalidInput

__all__ = [
    "BUSY_RETRY_S",
    "FILL_BATCH_TXS",
    "FILL_IN_FLIGHT",
    "FILL_SEGMENT_TXS",
    "HEIGHT_POLL_S",
    "RESTART_TARGET_S",
    "SYNC_TARGET_TPS",
    "FillResult",
    "fill_chain",
    "measure_restart",
    "run_restart",
    "run_sync",
    "store_bytes",
]

RESTART_TARGET_S = 10.0
"""Issue 7: a node with 1,000,000 transactions on disk serves again within this."""
SYNC_TARGET_TPS = 10_000.0
"""Issue 7: a lagging node catches up at least this fast (transactions per second)."""
FILL_SEGMENT_TXS = 20_000
"""Transactions signed at once while filling (the next segment is signed while one is sent;
a transaction is valid for 590 s, a segment is sent in well under that)."""
FILL_BATCH_TXS = 1_000
"""Transactions per ``/txs/batch`` request while filling."""
FILL_IN_FLIGHT = 4
"""Fill requests in flight at once."""
BUSY_RETRY_S = 0.2
"""Pause before the transactions a full pool refused as ``busy`` are sent again."""
DUPLICATE_CODE = "duplicate_transaction"
"""A resent batch's transactions that were admitted the first time are refused with this."""
HEIGHT_POLL_S = 0.05
"""Pause between two height probes of a catching-up node."""
DRAIN_TIMEOUT_S = 600.0
"""How long a fill waits for the pools to empty after its last request."""
HTTP_TIMEOUT_S = 60.0
COMMIT_TIMEOUT_S = 60.0
"""How long the transaction sent after a restart may take to commit."""
SYNC_TIMEOUT_S = 1800.0
"""How long a lagging node may take to reach the head."""
PROFILE_RATE_HZ = 100
"""py-spy samples per second of the catching-up node."""
PROFILE_TOP = 25
"""Functions listed in a profile summary."""
SYNC_COUNTERS = ("blocks_synced", "gossip_dropped_syncing", "messages_invalid", "messages_dropped")
"""Health counters of the catching-up node reported with the sync figures."""
SYNC_VALIDATORS = 4
"""Validators of the sync network: three of them are a quorum while the fourth is down."""
API = "/api/v1"
IDENTITY = "org1/client"
JINGLIAN_CLI = (sys.executable, "-m", "jinglian.cli")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """The default progress sink: says nothing."""


@dataclass(frozen=True, slots=True)
class FillResult:
    """What ``fill_chain`` did."""

    sent: int
    """Transactions admitted (after retrying ``busy`` refusals)."""
    refused: dict[str, int]
    """Error code -> transactions refused for another reason than ``busy`` (not resent)."""
    busy_retries: int
    """Transactions resent after a ``busy`` answer."""
    requests_resent: int
    """Requests sent again after a transport error (closed connection, timeout)."""
    seconds: float
    """From the first request to every pool empty."""
    signing_cpu_s: float
    """CPU seconds the signing workers used."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form, with the admitted rate."""
        return {
            "txs_sent": self.sent,
            "refused": self.refused,
            "busy_retries": self.busy_retries,
            "requests_resent": self.requests_resent,
            "seconds": round(self.seconds, 2),
            "txs_per_s": round(self.sent / self.seconds, 1) if self.seconds > 0 else None,
            "signing_cpu_s": round(self.signing_cpu_s, 2),
        }


async def fill_chain(
    endpoints: Sequence[str],
    net_dir: Path,
    chain_id: str,
    txs: int,
    pool: multiprocessing.pool.Pool,
    workers: int,
    progress: Progress = _quiet,
) -> FillResult:
    """Commit ``txs`` ``kv.set`` transactions (certificate by id, registered first) on the
    network's nodes at ``endpoints`` as fast as they take them; wait until every pool is empty."""
    started = time.monotonic()
    refused: collections.Counter[str] = collections.Counter()
    counts = {"sent": 0, "busy": 0, "resent": 0}
    cpu = 0.0
    segments = [min(FILL_SEGMENT_TXS, txs - first) for first in range(0, txs, FILL_SEGMENT_TXS)]
    loop = asyncio.get_running_loop()

    def sign(count: int) -> Any:
        template = SignJob(
            str(net_dir), IDENTITY, chain_id, 0, random.SystemRandom().getrandbits(62), True
        )
        jobs = sign_jobs(template, count, workers)
        return loop.run_in_executor(None, lambda: pool.map(sign_timed, jobs))

    async with httpx.AsyncClient(timeout=httpx.Timeout(HTTP_TIMEOUT_S)) as client:
        pending = sign(segments[0]) if segments else None
        for index in range(len(segments)):
            assert pending is not None
            results = await pending
            pending = sign(segments[index + 1]) if index + 1 < len(segments) else None
            cpu += sum(c for _, c in results)
            signed = [b64 for chunk, _ in results for _, b64 in chunk]
            batches = [
                signed[i : i + FILL_BATCH_TXS] for i in range(0, len(signed), FILL_BATCH_TXS)
            ]
            queue: asyncio.Queue[list[bytes]] = asyncio.Queue()
            for batch in batches:
                queue.put_nowait(batch)
            senders = [
                _send_batches(client, endpoints[i % len(endpoints)], queue, counts, refused)
                for i in range(FILL_IN_FLIGHT)
            ]
            await asyncio.gather(*senders)
            progress(f"fill: {counts['sent']:,}/{txs:,} admitted")
        await _wait_drained(client, endpoints, DRAIN_TIMEOUT_S)
    return FillResult(
        counts["sent"],
        dict(refused),
        counts["busy"],
        counts["resent"],
        time.monotonic() - started,
        cpu,
    )


async def _send_batches(
    client: httpx.AsyncClient,
    url: str,
    queue: asyncio.Queue[list[bytes]],
    counts: dict[str, int],
    refused: collections.Counter[str],
) -> None:
    """Send batches from ``queue`` until it is empty; resend each batch's ``busy`` ones."""
    while not queue.empty():
        batch = queue.get_nowait()
        while batch:
            body = b'{"txs":["' + b'","'.join(batch) + b'"]}'
            try:
                reply = await client.post(
                    url + API + "/txs/batch",
                    content=body,
                    headers={"content-type": "application/json"},
                )
            except httpx.TransportError:
                # The server closed a kept-alive connection or the node was too busy to
                # answer: send the same batch again (what was admitted answers "duplicate").
                counts["resent"] += 1
                await asyncio.sleep(BUSY_RETRY_S)
                continue
            if reply.status_code == 503:
                counts["busy"] += len(batch)
                await asyncio.sleep(BUSY_RETRY_S)
                continue
            reply.raise_for_status()
            again = []
            for tx, result in zip(batch, reply.json()["results"], strict=True):
                code = str(result.get("error", {}).get("code", "unknown"))
                if "tx_id" in result or code == DUPLICATE_CODE:
                    counts["sent"] += 1
                    continue
                if code == "busy":
                    again.append(tx)
                else:
                    refused[code] += 1
            counts["busy"] += len(again)
            batch = again
            if batch:
                await asyncio.sleep(BUSY_RETRY_S)


async def _wait_drained(
    client: httpx.AsyncClient, endpoints: Sequence[str], timeout_s: float
) -> None:
    """Until every node's pool is empty; ``TimeoutError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        pools = [
            (await client.get(url + API + "/health")).json()["mempool_txs"] for url in endpoints
        ]
        if not any(pools):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"pools not empty after {timeout_s:g} s: {pools}")
        await asyncio.sleep(0.2)


def store_bytes(path: Path) -> dict[str, int]:
    """Bytes of the files under ``path``: as allocated on disk, and their apparent size."""
    allocated = apparent = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                stat = os.stat(os.path.join(root, name))
                allocated += stat.st_blocks * 512
                apparent += stat.st_size
    return {"allocated": allocated, "apparent": apparent}


def measure_restart(
    node: NodeProcess, how: signal.Signals, net_dir: Path, chain_id: str
) -> dict[str, Any]:
    """Stop ``node`` with ``how`` (SIGTERM: wait for its exit; SIGKILL), start it again and time,
    from the spawn: ``/health`` answering, a signed read of the latest block, a new
    transaction committed."""
    stop_started = time.monotonic()
    if how == signal.SIGKILL:
        node.kill(signal.SIGKILL)
    else:
        node.stop()
    stop_s = time.monotonic() - stop_started
    identity = Identity.from_network(net_dir, IDENTITY)
    tx = identity.sign_tx(chain_id, "kv", "set", kv_set_args(random.Random()), include_cert=False)
    spawned = time.monotonic()
    node.start()
    health_s = time.monotonic() - spawned
    with httpx.Client(base_url=node.api_url, timeout=HTTP_TIMEOUT_S) as http:
        latest = http.get(API + "/blocks/latest", auth=ReadAuth(identity))
        latest.raise_for_status()
        read_s = time.monotonic() - spawned
        height = int(latest.json()["header"]["height"])
        reply = http.post(
            API + "/txs",
            params={"wait": "true", "timeout": COMMIT_TIMEOUT_S},
            json={"tx": base64.b64encode(tx.encoded).decode()},
            timeout=COMMIT_TIMEOUT_S + 5,
        )
        reply.raise_for_status()
        commit_s = time.monotonic() - spawned
    return {
        "signal": how.name,
        "stop_s": round(stop_s, 3),
        "health_s": round(health_s, 3),
        "latest_block_read_s": round(read_s, 3),
        "new_tx_committed_s": round(commit_s, 3),
        "height": height,
    }


def _init_network(net_dir: Path, orgs: int, consensus: str, api_port: int, p2p_port: int) -> None:
    """``jinglian init`` of ``orgs`` organisations (one node each) on the given first ports."""
    command = [*JINGLIAN_CLI, "init", str(net_dir), "--orgs", str(orgs)]
    command += ["--consensus", consensus, "--api-port", str(api_port), "--p2p-port", str(p2p_port)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise NodeProcessError(f"jinglian init failed: {done.stderr.strip()[-2000:]}")


def _solo_target(net_dir: Path) -> Target:
    network = load_network(net_dir)
    return Target(
        net_dir=net_dir,
        endpoints=tuple(n.api_url for n in network.nodes),
        pids={},
        chain_id=network.chain_id,
        crypto=network.crypto,
        consensus=network.consensus,
        nodes=len(network.nodes),
        fresh=True,
    )


def _txs_committed(url: str) -> int | None:
    """The node's committed-transaction counter since its start (``/metrics``)."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        for line in httpx.get(url + "/metrics", timeout=HTTP_TIMEOUT_S).text.splitlines():
            name, _, value = line.partition(" ")
            if name == "jinglian_txs_committed_total":
                return int(float(value))
    return None


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _check(txs: int, workers: int, *, allow_zero: bool = False) -> None:
    if txs < (0 if allow_zero else 1):
        raise InvalidInput("--txs must be at least 1")
    if workers < 1:
        raise InvalidInput("--workers must be at least 1")


def run_restart(
    work_dir: Path,
    txs: int,
    *,
    api_port: int,
    p2p_port: int,
    workers: int = 2,
    keep: bool = False,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Build a solo chain of ``txs`` committed transactions in ``work_dir/net``, then restart its
    node after SIGTERM and after SIGKILL; the figures (``docs/benchmarks.md``).

    If ``work_dir/net`` holds a network already (a kept earlier run), its chain is reused and
    grown by ``txs`` (0: restart it as it is), and it is never deleted.
    """
    _check(txs, workers, allow_zero=True)
    net_dir = work_dir / "net"
    reused = net_dir.exists()
    if not reused:
        _init_network(net_dir, 1, "solo", api_port, p2p_port)
    node_dir = load_network(net_dir).nodes[0].dir
    data_dir = node_dir / "data"
    node = NodeProcess(node_dir)
    result: dict[str, Any] = {
        "kind": "restart",
        "txs": txs,
        "reused_chain": reused,
        "load_average_start": _load_average(),
    }
    try:
        node.start()
        target = _solo_target(net_dir)
        identity = Identity.from_network(net_dir, IDENTITY)
        prepare_chain(target, get_workload("kv"), IDENTITY, True)
        progress("restart: timing a restart before the build")
        result["restart_before_build"] = measure_restart(
            node, signal.SIGTERM, net_dir, target.chain_id
        )
        if txs:
            progress(f"restart: adding {txs:,} transactions to the chain")
            result["build"] = _grow_chain(target, net_dir, txs, workers, progress)
        progress("restart: counting the transactions on the chain")
        result["height"], result["txs_on_chain"] = _count_chain(target.endpoints[0], identity)
        result["store_bytes"] = store_bytes(data_dir)
        result["load_average_before_restarts"] = _load_average()
        result["restarts"] = []
        for how in (signal.SIGTERM, signal.SIGKILL):
            progress(f"restart: {how.name} and start again")
            result["restarts"].append(measure_restart(node, how, net_dir, target.chain_id))
        result["load_average_end"] = _load_average()
        worst = max(r["latest_block_read_s"] for r in result["restarts"])
        result["serving_again_s_max"] = worst
        result["target_s"] = RESTART_TARGET_S
        result["met"] = worst <= RESTART_TARGET_S
    finally:
        node.close()
        if not keep and not reused:
            shutil.rmtree(net_dir, ignore_errors=True)
    return result


def _grow_chain(
    target: Target, net_dir: Path, txs: int, workers: int, progress: Progress
) -> dict[str, Any]:
    """Commit ``txs`` more transactions through the node's API; the build figures."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        fill = asyncio.run(
            fill_chain(target.endpoints, net_dir, target.chain_id, txs, pool, workers, progress)
        )
    return fill.as_dict()


def _count_chain(url: str, identity: Identity) -> tuple[int, int]:
    """The head height of the node at ``url`` and the transactions of all its blocks."""
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
        head = _height(http, url)
        assert head is not None
        return head, sum(_block_txs(http, url, identity, 1, head).values())


def _height(http: httpx.Client, url: str) -> int | None:
    try:
        return int(http.get(url + API + "/health").json()["height"])
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def _block_txs(
    http: httpx.Client, url: str, identity: Identity, first: int, last: int
) -> dict[int, int]:
    """Height -> transaction count of the blocks ``first..last`` at ``url``."""
    auth = ReadAuth(identity)
    out = {}
    for height in range(first, last + 1):
        block = http.get(f"{url}{API}/blocks/{height}", auth=auth).json()
        out[height] = int(block["header"]["tx_count"])
    return out


def run_sync(
    work_dir: Path,
    txs: int,
    *,
    api_port: int,
    p2p_port: int,
    workers: int = 2,
    profile: Path | None = None,
    keep: bool = False,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Four ``tbft`` validators; the last misses ``txs`` transactions and catches up by block sync;
    the figures (``docs/benchmarks.md``)."""
    _check(txs, workers)
    net_dir = work_dir / "net"
    _init_network(net_dir, SYNC_VALIDATORS, "tbft", api_port, p2p_port)
    network = load_network(net_dir)
    nodes = [NodeProcess(entry.dir) for entry in network.nodes]
    lagging = nodes[-1]
    identity = Identity.from_network(net_dir, IDENTITY)
    result: dict[str, Any] = {"kind": "sync", "txs": txs, "load_average_start": _load_average()}
    try:
        with ThreadPoolExecutor(len(nodes)) as starting:
            list(starting.map(lambda node: node.start(), nodes))
        target = _solo_target(net_dir)
        prepare_chain(target, get_workload("kv"), IDENTITY, True)
        with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
            stopped_at = _height(http, lagging.api_url)
        lagging.stop()
        assert stopped_at is not None
        others = target.endpoints[:-1]
        progress(f"sync: {lagging.node_dir.name} stopped; the others commit {txs:,} transactions")
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers) as pool:
            fill = asyncio.run(
                fill_chain(others, net_dir, target.chain_id, txs, pool, workers, progress)
            )
        result["build"] = fill.as_dict()
        result.update(_catch_up(lagging, others[0], identity, stopped_at, profile, progress))
        result["load_average_end"] = _load_average()
        result["target_tps"] = SYNC_TARGET_TPS
        tps = result["catch_up_txs_per_s"]
        result["met"] = tps is not None and tps >= SYNC_TARGET_TPS
    finally:
        for node in nodes:
            node.close()
        if not keep:
            shutil.rmtree(net_dir, ignore_errors=True)
    return result


def _catch_up(
    lagging: NodeProcess,
    head_url: str,
    identity: Identity,
    stopped_at: int,
    profile: Path | None,
    progress: Progress,
) -> dict[str, Any]:
    """Start ``lagging`` (stopped at height ``stopped_at``), follow it to the head of the node at
    ``head_url`` (sampled by py-spy into ``profile`` if given); the catch-up figures."""
    figures: dict[str, Any] = {}
    spy: subprocess.Popen[bytes] | None = None
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
        head = _height(http, head_url)
        assert head is not None
        figures["load_average_before_sync"] = _load_average()
        progress(f"sync: head {head}; starting {lagging.node_dir.name}")
        try:
            spawned = time.monotonic()
            lagging.start()
            health_s = time.monotonic() - spawned
            if profile is not None:
                spy = _start_py_spy(lagging, profile)
            samples = _follow(http, lagging.api_url, head, spawned)
            figures["lagging_node"] = _sync_counters(http, lagging.api_url)
            if spy is not None and profile is not None:
                figures["profile"] = _stop_py_spy(spy, profile)
                spy = None
        finally:
            if spy is not None:
                spy.kill()
        counts = _block_txs(http, head_url, identity, stopped_at + 1, head)
    figures.update(_sync_figures(samples, counts, stopped_at, head, health_s))
    return figures


def _sync_counters(http: httpx.Client, url: str) -> dict[str, Any]:
    """The catching-up node's block sync counters, from its health answer."""
    health = http.get(f"{url}/api/v1/health").json()
    return {key: health.get(key) for key in SYNC_COUNTERS}


def _follow(http: httpx.Client, url: str, head: int, spawned: float) -> list[tuple[float, int]]:
    """(seconds since spawn, height) of the node at ``url`` until it reaches ``head``."""
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while True:
        height = _height(http, url)
        if height is not None:
            samples.append((time.monotonic() - spawned, height))
            if height >= head:
                return samples
        if time.monotonic() > deadline:
            raise NodeProcessError(f"{url} did not reach height {head} in {SYNC_TIMEOUT_S:g} s")
        time.sleep(HEIGHT_POLL_S)


def _sync_figures(
    samples: list[tuple[float, int]],
    counts: dict[int, int],
    start_height: int,
    head: int,
    health_s: float,
) -> dict[str, Any]:
    """Catch-up figures from the height samples and each synced block's transaction count."""
    first = next(((t, h) for t, h in samples if h > start_height), None)
    reached_s = samples[-1][0]
    total_txs = sum(counts.values())
    figures: dict[str, Any] = {
        "start_height": start_height,
        "head": head,
        "blocks_synced": head - start_height,
        "txs_synced": total_txs,
        "health_s": round(health_s, 3),
        "reached_head_s": round(reached_s, 3),
        "txs_per_s_from_spawn": round(total_txs / reached_s, 1) if reached_s > 0 else None,
        "catch_up_txs_per_s": None,
    }
    if first is not None:
        first_s, first_h = first
        after = sum(n for h, n in counts.items() if h > first_h)
        span = reached_s - first_s
        figures["first_synced_block_s"] = round(first_s, 3)
        figures["first_synced_height"] = first_h
        figures["catch_up_s"] = round(span, 3)
        figures["catch_up_txs"] = after
        figures["catch_up_txs_per_s"] = round(after / span, 1) if span > 0 else None
        figures["catch_up_blocks_per_s"] = round((head - first_h) / span, 1) if span > 0 else None
    return figures


def _start_py_spy(node: NodeProcess, out: Path) -> subprocess.Popen[bytes]:
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [
            str(spy),
            "record",
            "--pid",
            str(node.pid),
            "--rate",
            str(PROFILE_RATE_HZ),
            "--format",
            "raw",
            "--output",
            str(out),
            "--threads",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _stop_py_spy(spy: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
    """Stop ``py-spy`` (SIGINT writes its file) and summarise where the samples fell."""
    spy.send_signal(signal.SIGINT)
    try:
        _, err = spy.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        return {"error": "py-spy did not stop"}
    if not out.exists():
        return {"error": err.decode(errors="replace")[-500:]}
    return summarize_profile(out)


def summarize_profile(path: Path, top: int = PROFILE_TOP) -> dict[str, Any]:
    """From a ``py-spy --format raw`` file: samples per thread, and the functions with the most
    samples on the stack (inclusive) and at its top (self), as shares of all samples."""
    threads: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        threads[frames[0]] += count
        names = {_frame_name(f) for f in frames[1:]}
        for name in names:
            inclusive[name] += count
        if len(frames) > 1:
            own[_frame_name(frames[-1])] += count

    def shares(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(n / total, 3)) for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "threads": shares(threads),
        "inclusive": shares(inclusive),
        "self": shares(own),
        "file": str(path),
    }


def _frame_name(frame: str) -> str:
    """``function (path/to/module.py:LINE)`` -> ``function (module.py)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({Path(where).name})" if where else name
