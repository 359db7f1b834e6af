"""A fake node API with known behaviour, to check that ``jinglian bench`` measures it correctly.

``FakeChain`` serves, on a free port of 127.0.0.1, the routes the bench
uses: ``POST /api/v1/txs`` and ``/txs/batch`` (records each transaction's
arrival time and id; the id is read from the transaction with the default
suite, or is the text itself when it is not base64 of a transaction),
``POST /api/v1/query`` (answers after ``query_delay_s``), ``GET
/api/v1/stream`` (server-sent block events), ``GET /api/v1/blocks/{h}``
and ``GET /api/v1/health``. A transaction commits in the first block built
``commit_delay_s`` or more after it arrived; blocks are built every
``tick_s``. So the true latency of every transaction is known to within one
tick, and the true arrival rate is what was recorded (``GET /fake/record``).

``serve`` runs it in a child process (``python -m tests.bench.fake_chain``),
so that its timing does not share an interpreter lock with the generator it
checks.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from jinglian.crypto import get_suite
from jinglian.testing.process import find_free_port
from jinglian.types import decode_tx

TX_BYTES_MAX = 1 << 20
REPO = Path(__file__).resolve().parents[2]


@dataclass
class FakeChain:
    """The fake node's behaviour and what it saw."""

    commit_delay_s: float = 0.1
    tick_s: float = 0.005
    query_delay_s: float = 0.0
    busy_after: int | None = None
    """Refuse every transaction (503) once this many have arrived."""
    arrivals: list[float] = field(default_factory=list)
    """``time.time()`` of each request's arrival."""
    tx_arrivals: dict[str, float] = field(default_factory=dict)
    """Tx id hex -> arrival time."""
    blocks: list[tuple[int, list[str]]] = field(default_factory=list)
    """(header time ms, tx id hex list) of every block, height = index + 1."""
    _pending: list[tuple[float, str]] = field(default_factory=list)
    _subscribers: list[asyncio.Queue[str]] = field(default_factory=list)

    def app(self) -> Starlette:
        routes = [
            Route("/api/v1/txs", self._submit, methods=["POST"]),
            Route("/api/v1/txs/batch", self._submit_batch, methods=["POST"]),
            Route("/api/v1/query", self._query, methods=["POST"]),
            Route("/api/v1/stream", self._stream),
            Route("/api/v1/blocks/{height:int}", self._block),
            Route("/api/v1/health", self._health),
            Route("/fake/record", self._record),
        ]
        return Starlette(routes=routes, lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        builder = asyncio.create_task(self._build_blocks())
        yield
        builder.cancel()

    async def _build_blocks(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            now = time.time()
            due = [tx for at, tx in self._pending if at + self.commit_delay_s <= now]
            if not due:
                continue
            self._pending = [(at, tx) for at, tx in self._pending if at + self.commit_delay_s > now]
            self.blocks.append((int(now * 1000), due))
            event = {
                "kind": "block",
                "height": len(self.blocks),
                "data": {
                    "height": len(self.blocks),
                    "tx_count": len(due),
                    "time_ms": int(now * 1000),
                },
            }
            for queue in self._subscribers:
                queue.put_nowait(f"data: {json.dumps(event)}\n\n")

    def _admit(self, text: str, now: float) -> dict[str, object]:
        if self.busy_after is not None and len(self.tx_arrivals) >= self.busy_after:
            return {"error": {"code": "busy", "message": "pool full"}}
        tx_id = _tx_id(text)
        self.tx_arrivals[tx_id] = now
        self._pending.append((now, tx_id))
        return {"tx_id": tx_id}

    async def _submit(self, request: Request) -> JSONResponse:
        now = time.time()
        self.arrivals.append(now)
        outcome = self._admit((await request.json())["tx"], now)
        if "error" in outcome:
            return JSONResponse(outcome, status_code=503)
        return JSONResponse(outcome, status_code=202)

    async def _submit_batch(self, request: Request) -> JSONResponse:
        now = time.time()
        self.arrivals.append(now)
        results = [self._admit(text, now) for text in (await request.json())["txs"]]
        admitted = sum(1 for r in results if "tx_id" in r)
        return JSONResponse({"results": results, "admitted": admitted})

    async def _query(self, request: Request) -> JSONResponse:
        self.arrivals.append(time.time())
        await request.body()
        await asyncio.sleep(self.query_delay_s)
        return JSONResponse({"value": None, "height": len(self.blocks)})

    async def _stream(self, request: Request) -> StreamingResponse:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.append(queue)

        async def events() -> AsyncIterator[str]:
            yield ": open\n\n"
            try:
                while True:
                    yield await queue.get()
            finally:
                self._subscribers.remove(queue)

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _block(self, request: Request) -> JSONResponse:
        time_ms, txs = self.blocks[request.path_params["height"] - 1]
        return JSONResponse(
            {
                "header": {"tx_count": len(txs), "time_ms": time_ms},
                "tx_ids": txs,
                "receipts": [{"tx_id": t, "status": "ok"} for t in txs],
            }
        )

    async def _record(self, request: Request) -> JSONResponse:
        return JSONResponse({"arrivals": self.arrivals, "tx_arrivals": self.tx_arrivals})

    async def _health(self, request: Request) -> JSONResponse:
        return JSONResponse({"height": len(self.blocks), "mempool_txs": len(self._pending)})


def _tx_id(text: str) -> str:
    """The id of a base64 transaction; a text that is not one is its own id (hex)."""
    try:
        return decode_tx(base64.b64decode(text), get_suite("default").hash, TX_BYTES_MAX).id.hex()
    except Exception:  # not base64 of a transaction: a test's own id
        return text


@dataclass
class Served:
    """A fake chain running in a child process."""

    url: str

    def record(self) -> dict[str, Any]:
        """What the fake saw: ``arrivals`` (request times) and ``tx_arrivals`` (id -> time)."""
        return httpx.get(self.url + "/fake/record", timeout=10).json()  # type: ignore[no-any-return]


@contextlib.contextmanager
def serve(chain: FakeChain) -> Iterator[Served]:
    """Run ``chain``'s behaviour in a child process on a free port until the block ends."""
    port = find_free_port()
    command = [sys.executable, "-m", "tests.bench.fake_chain", "--port", str(port)]
    command += ["--commit-delay", str(chain.commit_delay_s), "--tick", str(chain.tick_s)]
    command += ["--query-delay", str(chain.query_delay_s)]
    if chain.busy_after is not None:
        command += ["--busy-after", str(chain.busy_after)]
    proc = subprocess.Popen(command, cwd=REPO, stdin=subprocess.DEVNULL)
    served = Served(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, "the fake chain exited"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(served.url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the fake chain did not start"
            time.sleep(0.05)
        yield served
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    """``python -m tests.bench.fake_chain --port P [--commit-delay S] ...``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--commit-delay", type=float, default=0.1)
    parser.add_argument("--tick", type=float, default=0.005)
    parser.add_argument("--query-delay", type=float, default=0.0)
    parser.add_argument("--busy-after", type=int)
    args = parser.parse_args()
    chain = FakeChain(args.commit_delay, args.tick, args.query_delay, args.busy_after)
    uvicorn.run(chain.app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
