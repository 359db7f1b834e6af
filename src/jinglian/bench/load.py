"""Open-loop load: requests leave at a fixed arrival rate, whatever the answers do.

``send_open_loop`` releases request ``k`` of a step at ``start + k / rate``
seconds (requests per second; each request carries one transaction, or a
batch, or one query), on the first idle keep-alive connection to the next
endpoint in turn, opening a new connection when none is idle (up to
``connections_max`` per endpoint). It never waits for an answer before
releasing the next request: when the node is slow, requests wait for a free
connection and ``SendLog.requests`` records how late each left (``lag``),
so a generator that cannot keep up is visible, never silent.

Each answer is classified per transaction: accepted (the node admitted it),
``busy`` (the node refused it for load: ``503`` or a ``busy`` outcome in a
batch; not resent, since an open-loop generator does not retry), another
error code, or ``connection`` when the request got no HTTP answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from jinglian.testing.loadgen.submit import API, RawConnection, error_code

__all__ = [
    "BUSY_CODE",
    "CONNECTION_ERROR",
    "RequestTiming",
    "SendLog",
    "TxRequest",
    "path_for",
    "send_open_loop",
]

BUSY_CODE = "busy"
"""Error code of a refusal for load (HTTP 503 or a batch outcome)."""
CONNECTION_ERROR = "connection"
"""What a request that got no HTTP answer (refused, reset, closed) counts as."""


@dataclass(frozen=True, slots=True)
class TxRequest:
    """One HTTP request of a step: its body and the transactions it carries."""

    body: bytes
    tx_ids: tuple[bytes, ...] = ()
    """Transaction ids in the body, in order (empty for a query)."""
    headers: bytes = b""
    """Extra header lines (a query's signed-read headers), each ending in CRLF."""


@dataclass(frozen=True, slots=True)
class RequestTiming:
    """When one request was due, left and was answered (``time.time()`` seconds)."""

    due_s: float
    sent_s: float
    answered_s: float
    ok: bool
    """Answered with success (for a batch: the request; outcomes are per transaction)."""


@dataclass
class SendLog:
    """What the sending of one step did, per transaction and per request."""

    sent_s: dict[bytes, float] = field(default_factory=dict)
    """Tx id -> ``time.time()`` when its request left."""
    accepted: set[bytes] = field(default_factory=set)
    """Tx ids the node admitted."""
    refused: dict[bytes, str] = field(default_factory=dict)
    """Tx id -> error code, for transactions not admitted."""
    requests: list[RequestTiming] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    """Error code -> transactions (or queries) refused with it."""

    @property
    def answered(self) -> int:
        """Requests answered so far (with anything)."""
        return len(self.requests)


def path_for(batch: int, is_query: bool) -> str:
    """The route requests go to: ``/query``, ``/txs`` (one per request) or ``/txs/batch``."""
    if is_query:
        return API + "/query"
    return API + ("/txs" if batch == 1 else "/txs/batch")


class _Pool:
    """Keep-alive connections to one endpoint: the most recently used idle one first."""

    def __init__(self, url: str, path: str, connections_max: int) -> None:
        self._url, self._path = url, path
        self._idle: list[RawConnection] = []
        self._free = asyncio.Semaphore(connections_max)
        self.opened = 0

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[tuple[RawConnection, bool]]:
        """A connection, and whether it was used before (the server may have closed it)."""
        async with self._free:
            reused = bool(self._idle)
            if reused:
                conn = self._idle.pop()
            else:
                conn = RawConnection(self._url, self._path)
                self.opened += 1
            try:
                yield conn, reused
            finally:
                self._idle.append(conn)

    async def close(self) -> None:
        for conn in self._idle:
            await conn.close()


async def send_open_loop(
    requests: Sequence[TxRequest] | Callable[[int], Awaitable[Sequence[TxRequest]]],
    rate_rps: float,
    endpoints: Sequence[str],
    path: str,
    log: SendLog,
    *,
    connections_max: int = 32,
    segments: int = 1,
) -> float:
    """Send ``requests`` at ``rate_rps`` requests per second; return the schedule's start (wall s).

    ``requests`` is a list, or a coroutine function giving segment ``i`` of
    ``segments`` (later segments may still be being signed; request numbers
    run on across segments so the rate holds). Returns when every request is
    answered.
    """
    assert rate_rps > 0 and endpoints, "a positive rate and at least one endpoint"
    pools = [_Pool(url, path, connections_max) for url in endpoints]
    batch_aware = path.endswith("/batch")
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    wall_start = time.time()
    index = 0
    try:
        for segment in range(segments):
            chunk = requests if not callable(requests) else await requests(segment)
            for request in chunk:
                delay = start + index / rate_rps - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                due = wall_start + index / rate_rps
                pool = pools[index % len(pools)]
                task = asyncio.create_task(_send(pool, request, due, batch_aware, log))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                index += 1
        while tasks:
            await asyncio.gather(*list(tasks))
    finally:
        for task in tasks:
            task.cancel()
        for pool in pools:
            await pool.close()
    return wall_start


async def _send(pool: _Pool, request: TxRequest, due: float, batch: bool, log: SendLog) -> None:
    async with pool.connection() as (conn, reused):
        sent = time.time()
        for tx_id in request.tx_ids:
            log.sent_s[tx_id] = sent
        try:
            status, content = await _post(conn, request, reused)
        except ConnectionError:
            status, content = 0, b""
    log.requests.append(RequestTiming(due, sent, time.time(), 200 <= status < 300))
    _classify(request, status, content, batch, log)


async def _post(conn: RawConnection, request: TxRequest, reused: bool) -> tuple[int, bytes]:
    """Post ``request``; once more on a new connection if a reused one failed.

    A keep-alive connection idle for a few seconds may have been closed by
    the server just as the request went out; the server then never read it,
    so sending it again is what every HTTP client does.
    """
    try:
        return await conn.post(request.body, request.headers)
    except ConnectionError:
        if not reused:
            raise
        return await conn.post(request.body, request.headers)


def _classify(request: TxRequest, status: int, content: bytes, batch: bool, log: SendLog) -> None:
    """Record each transaction's outcome (or the query's) from the answer."""
    if batch and status == 200:
        outcomes = json.loads(content)["results"]
        for tx_id, outcome in zip(request.tx_ids, outcomes, strict=True):
            if outcome.get("tx_id") is not None:
                log.accepted.add(tx_id)
            else:
                _refuse(log, tx_id, str(outcome["error"]["code"]))
        return
    if 200 <= status < 300:
        log.accepted.update(request.tx_ids)
        return
    if status == 0:
        code = CONNECTION_ERROR
    elif status == 503:
        code = BUSY_CODE
    else:
        code = error_code(status, content)
    if not request.tx_ids:
        log.errors[code] += 1
    for tx_id in request.tx_ids:
        _refuse(log, tx_id, code)


def _refuse(log: SendLog, tx_id: bytes, code: str) -> None:
    log.refused[tx_id] = code
    log.errors[code] += 1
